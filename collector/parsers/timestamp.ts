/**
 * Timestamp parsing without regular expressions: each format is a small cursor scanner, so a
 * hostile string costs at most one pass over it (no backtracking), and the common formats cost
 * a few dozen character reads.
 *
 * Named formats: `rfc3339` (also ISO 8601 with a space or `T`, `,` or `.` fractions, with or
 * without a zone), `java` (the same scanner: `2026-11-25 10:00:00,123`), `epoch` (seconds, ms,
 * µs or ns chosen by magnitude), `epoch_s`, `epoch_ms`, `epoch_us`, `epoch_ns`, `apache`
 * (`10/Oct/2000:13:55:36 -0700`), `syslog` (`Oct 11 22:14:15`, year inferred), `klog`
 * (`1125 10:00:00.123456`, the klog header after its level letter, year inferred). Anything
 * else is a strftime-like pattern: `%Y %y %m %d %e %H %M %S %f %z %b %B %a %A %p %I %T %F %s %%`,
 * other characters literal (a space matches one or more spaces).
 *
 * Wall-clock times without a zone are read in the configured `timezone`: `UTC` (default),
 * `local` (the process's zone), a fixed offset `+05:30`, or an IANA name (`Europe/Berlin`).
 */

export type TimestampParser = (value: string | number, now: number) => number | undefined;

// Null prototype: month names come from input, which must not reach Object.prototype.
const MONTHS: Readonly<Record<string, number>> = Object.assign(Object.create(null) as Record<string, number>, {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  january: 1, february: 2, march: 3, april: 4, june: 6, july: 7, august: 8, september: 9, october: 10,
  november: 11, december: 12, sept: 9,
});

const DAY_MS = 86_400_000;
const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// ---------------------------------------------------------------------------------------------
// Time zones

/** Offset of a zone from UTC, in minutes, for a wall-clock time given as if it were UTC. */
export interface Zone {
  readonly name: string;
  /** Converts a wall-clock time (fields read as UTC) to epoch ms in this zone. */
  toUtc(wallMs: number): number;
}

const UTC_ZONE: Zone = { name: 'UTC', toUtc: (ms) => ms };

function fixedZone(name: string, minutes: number): Zone {
  return { name, toUtc: (ms) => ms - minutes * 60_000 };
}

/** Parses `+05:30`, `-0700`, `+05`, `Z`; undefined when it is not an offset. */
export function parseOffset(s: string): number | undefined {
  if (s === 'Z' || s === 'z') return 0;
  const sign = s[0] === '+' ? 1 : s[0] === '-' ? -1 : 0;
  if (sign === 0) return undefined;
  const digits = s.length === 6 && s[3] === ':' ? s.slice(1, 3) + s.slice(4) : s.slice(1);
  if (!/^\d{2}(\d{2})?$/.test(digits)) return undefined;
  const h = Number(digits.slice(0, 2));
  const m = digits.length === 4 ? Number(digits.slice(2)) : 0;
  if (h > 23 || m > 59) return undefined;
  return sign * (h * 60 + m);
}

/**
 * An IANA zone through Intl. Offsets are cached per wall-clock hour (bounded: cleared when full),
 * because Intl formatting costs microseconds and a log's times cluster in a few hours.
 */
function ianaZone(name: string): Zone {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const offsetAt = (utcMs: number): number => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const wall = Date.UTC(p['year'] ?? 1970, (p['month'] ?? 1) - 1, p['day'] ?? 1, p['hour'] ?? 0, p['minute'] ?? 0, p['second'] ?? 0);
    return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60_000);
  };
  const cache = new Map<number, number>();
  return {
    name,
    toUtc(wallMs) {
      const hour = Math.floor(wallMs / 3_600_000);
      let off = cache.get(hour);
      if (off === undefined) {
        // Two steps settle the offset on either side of a DST change.
        const first = offsetAt(wallMs);
        off = offsetAt(wallMs - first * 60_000);
        if (cache.size >= 4096) cache.clear();
        cache.set(hour, off);
      }
      return wallMs - off * 60_000;
    },
  };
}

function localZone(): Zone {
  return {
    name: 'local',
    toUtc(wallMs) {
      const d = new Date(wallMs);
      return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()).getTime() + (wallMs % 1);
    },
  };
}

/** Resolves a zone name; throws a plain Error naming the problem (the caller wraps it as a config error). */
export function zone(name: string | undefined): Zone {
  if (name === undefined || name === '' || name === 'UTC' || name === 'utc' || name === 'Z') return UTC_ZONE;
  if (name === 'local') return localZone();
  const off = parseOffset(name);
  if (off !== undefined) return fixedZone(name, off);
  try {
    return ianaZone(name);
  } catch {
    throw new Error(`unknown time zone "${name}" (use UTC, local, an offset such as +02:00, or an IANA name such as Europe/Berlin)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning helpers

/** Reads exactly `n` digits at `i`; -1 when they are not all digits. */
function digits(s: string, i: number, n: number): number {
  if (i + n > s.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Reads 1..max digits at `i`: [value, end] or undefined. */
function someDigits(s: string, i: number, max: number): [number, number] | undefined {
  let v = 0;
  let k = i;
  while (k < s.length && k - i < max) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    k++;
  }
  return k === i ? undefined : [v, k];
}

/** Where the last `fraction` call stopped (a module slot rather than a tuple per call). */
let fractionEnd = 0;

/** Fraction digits at `i` as milliseconds (keeps sub-ms precision up to µs); sets fractionEnd. */
function fraction(s: string, i: number): number {
  let k = i;
  let ms = 0;
  let scale = 100;
  while (k < s.length) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) break;
    if (scale >= 0.001) ms += c * scale;
    scale /= 10;
    k++;
  }
  fractionEnd = k;
  return Math.round(ms * 1000) / 1000;
}

function validDate(y: number, mo: number, d: number, h: number, mi: number, se: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || se > 60) return false;
  if (h === 24 && (mi !== 0 || se !== 0)) return false;
  // Day-of-month against the month's real length (Date.UTC would roll Feb 30 into March).
  if (d <= 28) return true;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (mo === 2 ? (leap ? 29 : 28) : MONTH_DAYS[mo]!);
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil), what
 * Date.UTC computes, in a few integer operations and without its mapping of years 0-99 to 19xx.
 */
function daysFromCivil(y: number, mo: number, d: number): number {
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** A validated wall-clock time as epoch ms read as UTC (a leap second 60 reads as 59). */
function wall(y: number, mo: number, d: number, h: number, mi: number, se: number, ms: number): number {
  return daysFromCivil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + Math.min(se, 59)) * 1000 + ms;
}

/** Where the last successful `zoneAt` call stopped (a module slot rather than a tuple per call). */
let zoneEnd = 0;

/** Reads a zone suffix at `i` (`Z`, `+hh:mm`, `+hhmm`, `+hh`): minutes (zoneEnd set) or undefined. */
function zoneAt(s: string, i: number): number | undefined {
  const c = s.charCodeAt(i);
  if (c === 90 /* Z */ || c === 122 /* z */) {
    zoneEnd = i + 1;
    return 0;
  }
  if (c !== 43 /* + */ && c !== 45 /* - */) return undefined;
  const sign = c === 43 ? 1 : -1;
  const h = digits(s, i + 1, 2);
  if (h < 0 || h > 23) return undefined;
  let k = i + 3;
  let m = 0;
  if (s.charCodeAt(k) === 58 /* : */) {
    m = digits(s, k + 1, 2);
    if (m < 0) return undefined;
    k += 3;
  } else {
    const m2 = digits(s, k, 2);
    if (m2 >= 0) {
      m = m2;
      k += 2;
    }
  }
  if (m > 59) return undefined;
  zoneEnd = k;
  return sign * (h * 60 + m);
}

// ---------------------------------------------------------------------------------------------
// Named formats. Each returns epoch ms or undefined; `end` must be the whole string.

/** RFC 3339 / ISO 8601 extended / Java `yyyy-MM-dd HH:mm:ss,SSS`. */
export function parseIso(s: string, z: Zone = UTC_ZONE): number | undefined {
  if (s.length < 10 || s.length > 64) return undefined;
  const y = digits(s, 0, 4);
  if (y < 0 || s.charCodeAt(4) !== 45 /* - */) return undefined;
  const mo = digits(s, 5, 2);
  if (mo < 0 || s.charCodeAt(7) !== 45) return undefined;
  const d = digits(s, 8, 2);
  if (d < 0) return undefined;
  let h = 0;
  let mi = 0;
  let se = 0;
  let ms = 0;
  let i = 10;
  if (i < s.length) {
    const sep = s.charCodeAt(i);
    if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32) return undefined;
    h = digits(s, i + 1, 2);
    if (h < 0 || s.charCodeAt(i + 3) !== 58 /* : */) return undefined;
    mi = digits(s, i + 4, 2);
    if (mi < 0) return undefined;
    i += 6;
    if (s.charCodeAt(i) === 58) {
      se = digits(s, i + 1, 2);
      if (se < 0) return undefined;
      i += 3;
      const c = s.charCodeAt(i);
      if (c === 46 /* . */ || c === 44 /* , */) {
        ms = fraction(s, i + 1);
        if (fractionEnd === i + 1) return undefined;
        i = fractionEnd;
      }
    }
  }
  if (!validDate(y, mo, d, h, mi, se)) return undefined;
  const w = wall(y, mo, d, h, mi, se, ms);
  if (i === s.length) return z.toUtc(w);
  // A space before the zone is common in Java layouts (`... 10:00:00,123 +0000`).
  const zi = s.charCodeAt(i) === 32 && i + 1 < s.length ? i + 1 : i;
  const off = zoneAt(s, zi);
  if (off === undefined || zoneEnd !== s.length) return undefined;
  return w - off * 60_000;
}

export type EpochUnit = 'auto' | 's' | 'ms' | 'us' | 'ns';

/** Epoch numbers; `auto` picks the unit by magnitude (< 1e11 s, < 1e14 ms, < 1e17 µs, else ns). */
export function parseEpoch(v: string | number, unit: EpochUnit = 'auto'): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else {
    if (v.length === 0 || v.length > 32) return undefined;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (!((c >= 48 && c <= 57) || (c === 46 && i > 0) || (c === 45 && i === 0))) return undefined;
    }
    n = Number(v);
  }
  if (!Number.isFinite(n) || n < 0) return undefined;
  const u = unit !== 'auto' ? unit : n < 1e11 ? 's' : n < 1e14 ? 'ms' : n < 1e17 ? 'us' : 'ns';
  const ms = u === 's' ? n * 1000 : u === 'ms' ? n : u === 'us' ? n / 1000 : n / 1e6;
  // Years 1970..2300: anything beyond is a misread unit, not a time.
  return ms <= 10_413_792_000_000 ? ms : undefined;
}

/** Apache/nginx `10/Oct/2000:13:55:36 -0700` (the zone may be absent: then `z`). */
export function parseApache(s: string, z: Zone = UTC_ZONE): number | undefined {
  if (s.length < 20 || s.length > 40) return undefined;
  const d = digits(s, 0, 2);
  if (d < 0 || s[2] !== '/' || s[6] !== '/') return undefined;
  const mo = MONTHS[s.slice(3, 6).toLowerCase()];
  const y = digits(s, 7, 4);
  if (mo === undefined || y < 0 || s[11] !== ':') return undefined;
  const h = digits(s, 12, 2);
  const mi = digits(s, 15, 2);
  const se = digits(s, 18, 2);
  if (h < 0 || mi < 0 || se < 0 || s[14] !== ':' || s[17] !== ':') return undefined;
  let i = 20;
  let ms = 0;
  if (s[i] === '.') {
    ms = fraction(s, i + 1);
    i = fractionEnd;
  }
  if (!validDate(y, mo, d, h, mi, se)) return undefined;
  const w = wall(y, mo, d, h, mi, se, ms);
  if (i === s.length) return z.toUtc(w);
  if (s[i] !== ' ') return undefined;
  const off = zoneAt(s, i + 1);
  if (off === undefined || zoneEnd !== s.length) return undefined;
  return w - off * 60_000;
}

/**
 * The year for a month/day that a format leaves out (syslog, klog): the current year, unless
 * that puts the time more than a week ahead of `now` (a December line read in January: last
 * year) or about a year behind it (a January line read on 31 December with a skewed clock).
 */
export function inferYear(mo: number, d: number, h: number, mi: number, se: number, ms: number, z: Zone, now: number): number | undefined {
  const year = new Date(now).getUTCFullYear();
  for (const y of [year, year - 1, year + 1]) {
    if (!validDate(y, mo, d, h, mi, se)) continue;
    const t = z.toUtc(wall(y, mo, d, h, mi, se, ms));
    if (t <= now + 7 * DAY_MS && t > now - 358 * DAY_MS) return t;
  }
  // Feb 29 in a non-leap year, or a line far from now: the current year when the date exists.
  return validDate(year, mo, d, h, mi, se) ? z.toUtc(wall(year, mo, d, h, mi, se, ms)) : undefined;
}

/** BSD syslog `Oct 11 22:14:15` or `Oct  1 22:14:15` (optional fraction), year inferred. */
export function parseSyslogTime(s: string, now: number, z: Zone = UTC_ZONE): number | undefined {
  if (s.length < 15 || s.length > 32) return undefined;
  const mo = MONTHS[s.slice(0, 3).toLowerCase()];
  if (mo === undefined || s[3] !== ' ') return undefined;
  const d = s[4] === ' ' ? digits(s, 5, 1) : digits(s, 4, 2);
  if (d < 0 || s[6] !== ' ') return undefined;
  return clockToEnd(s, 7, mo, d, z, now);
}

/** klog `mmdd hh:mm:ss.uuuuuu` (the part after the level letter), year inferred. */
export function parseKlogTime(s: string, now: number, z: Zone = UTC_ZONE): number | undefined {
  if (s.length < 13 || s.length > 24) return undefined;
  const mo = digits(s, 0, 2);
  const d = digits(s, 2, 2);
  if (mo < 0 || d < 0 || s[4] !== ' ') return undefined;
  return clockToEnd(s, 5, mo, d, z, now);
}

/**
 * The `hh:mm:ss[.fraction]` at `i` that must end `s`, on month `mo` day `d` of an inferred year:
 * the tail that syslog and klog times share.
 */
function clockToEnd(s: string, i: number, mo: number, d: number, z: Zone, now: number): number | undefined {
  const h = digits(s, i, 2);
  const mi = digits(s, i + 3, 2);
  const se = digits(s, i + 6, 2);
  if (h < 0 || mi < 0 || se < 0 || s[i + 2] !== ':' || s[i + 5] !== ':') return undefined;
  let ms = 0;
  let k = i + 8;
  if (s[k] === '.') {
    ms = fraction(s, k + 1);
    k = fractionEnd;
  }
  if (k !== s.length) return undefined;
  return inferYear(mo, d, h, mi, se, ms, z, now);
}

// ---------------------------------------------------------------------------------------------
// strftime-like patterns, compiled once into steps.

type Step =
  | { k: 'lit'; c: string }
  | { k: 'space' }
  | { k: 'num'; f: 'Y' | 'y' | 'm' | 'd' | 'H' | 'M' | 'S' | 'I'; min: number; max: number }
  | { k: 'frac' }
  | { k: 'zone' }
  | { k: 'month' }
  | { k: 'word' }
  | { k: 'ampm' }
  | { k: 'epoch' };

function compileStrftime(fmt: string): Step[] {
  const steps: Step[] = [];
  const expand = fmt.replace(/%T/g, '%H:%M:%S').replace(/%F/g, '%Y-%m-%d');
  for (let i = 0; i < expand.length; i++) {
    const c = expand[i]!;
    if (c === ' ') {
      if (steps.at(-1)?.k !== 'space') steps.push({ k: 'space' });
      continue;
    }
    if (c !== '%') {
      steps.push({ k: 'lit', c });
      continue;
    }
    const d = expand[++i];
    switch (d) {
      case 'Y': steps.push({ k: 'num', f: 'Y', min: 4, max: 4 }); break;
      case 'y': steps.push({ k: 'num', f: 'y', min: 2, max: 2 }); break;
      case 'm': steps.push({ k: 'num', f: 'm', min: 1, max: 2 }); break;
      case 'd': steps.push({ k: 'num', f: 'd', min: 1, max: 2 }); break;
      case 'e': steps.push({ k: 'num', f: 'd', min: 1, max: 2 }); break;
      case 'H': steps.push({ k: 'num', f: 'H', min: 1, max: 2 }); break;
      case 'I': steps.push({ k: 'num', f: 'I', min: 1, max: 2 }); break;
      case 'M': steps.push({ k: 'num', f: 'M', min: 2, max: 2 }); break;
      case 'S': steps.push({ k: 'num', f: 'S', min: 2, max: 2 }); break;
      case 'f': steps.push({ k: 'frac' }); break;
      case 'z': case 'Z': steps.push({ k: 'zone' }); break;
      case 'b': case 'B': case 'h': steps.push({ k: 'month' }); break;
      case 'a': case 'A': steps.push({ k: 'word' }); break;
      case 'p': steps.push({ k: 'ampm' }); break;
      case 's': steps.push({ k: 'epoch' }); break;
      case '%': steps.push({ k: 'lit', c: '%' }); break;
      default:
        throw new Error(`unsupported directive %${d ?? ''} in time format "${fmt}"`);
    }
  }
  return steps;
}

function runStrftime(steps: readonly Step[], s: string, z: Zone, now: number): number | undefined {
  if (s.length > 64) return undefined;
  let i = 0;
  let y: number | undefined;
  let mo = 1;
  let d = 1;
  let h = 0;
  let mi = 0;
  let se = 0;
  let ms = 0;
  let pm: boolean | undefined;
  let off: number | undefined;
  for (const st of steps) {
    switch (st.k) {
      case 'lit':
        if (s[i] !== st.c) return undefined;
        i++;
        break;
      case 'space': {
        const start = i;
        while (s[i] === ' ') i++;
        if (i === start) return undefined;
        break;
      }
      case 'num': {
        // %e and %d accept a leading space for one-digit days (`Oct  1`).
        if (st.f === 'd' && s[i] === ' ') i++;
        const r = someDigits(s, i, st.max);
        if (r === undefined || r[1] - i < st.min) return undefined;
        i = r[1];
        const v = r[0];
        if (st.f === 'Y') y = v;
        else if (st.f === 'y') y = v < 69 ? 2000 + v : 1900 + v;
        else if (st.f === 'm') mo = v;
        else if (st.f === 'd') d = v;
        else if (st.f === 'H' || st.f === 'I') h = v;
        else if (st.f === 'M') mi = v;
        else se = v;
        break;
      }
      case 'frac': {
        const f = fraction(s, i);
        if (fractionEnd === i) return undefined;
        ms = f;
        i = fractionEnd;
        break;
      }
      case 'zone': {
        const r = zoneAt(s, i);
        if (r !== undefined) {
          off = r;
          i = zoneEnd;
        } else if (s.startsWith('UTC', i) || s.startsWith('GMT', i)) {
          off = 0;
          i += 3;
        } else return undefined;
        break;
      }
      case 'month': {
        let k = i;
        while (k < s.length && k - i < 9 && ((s.charCodeAt(k) | 32) >= 97 && (s.charCodeAt(k) | 32) <= 122)) k++;
        const m = MONTHS[s.slice(i, k).toLowerCase()];
        if (m === undefined) return undefined;
        mo = m;
        i = k;
        break;
      }
      case 'word': {
        const start = i;
        while (i < s.length && i - start < 9 && ((s.charCodeAt(i) | 32) >= 97 && (s.charCodeAt(i) | 32) <= 122)) i++;
        if (i === start) return undefined;
        break;
      }
      case 'ampm': {
        const w = s.slice(i, i + 2).toLowerCase();
        if (w !== 'am' && w !== 'pm') return undefined;
        pm = w === 'pm';
        i += 2;
        break;
      }
      case 'epoch': {
        let k = i;
        while (k < s.length && k - i < 20 && ((s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) || s[k] === '.')) k++;
        const t = parseEpoch(s.slice(i, k), 's');
        if (t === undefined) return undefined;
        if (k !== s.length) return undefined;
        return t;
      }
    }
  }
  if (i !== s.length) return undefined;
  if (pm !== undefined) {
    if (h < 1 || h > 12) return undefined;
    h = (h % 12) + (pm ? 12 : 0);
  }
  if (y === undefined) {
    const zz = off === undefined ? z : fixedZone('', off);
    return inferYear(mo, d, h, mi, se, ms, zz, now);
  }
  if (!validDate(y, mo, d, h, mi, se)) return undefined;
  const w = wall(y, mo, d, h, mi, se, ms);
  return off === undefined ? z.toUtc(w) : w - off * 60_000;
}

/**
 * Compiles a list of formats (tried in order) and a zone into one parser. Throws a plain Error
 * on an unknown directive or zone: configuration problems surface at start, never per line.
 */
export function compileTimestamp(formats: readonly string[], timezone?: string): TimestampParser {
  const z = zone(timezone);
  const parsers: TimestampParser[] = formats.map((f): TimestampParser => {
    switch (f) {
      case 'rfc3339':
      case 'iso8601':
      case 'java':
        return (v) => (typeof v === 'string' ? parseIso(v, z) : undefined);
      case 'epoch':
        return (v) => parseEpoch(v, 'auto');
      case 'epoch_s':
        return (v) => parseEpoch(v, 's');
      case 'epoch_ms':
        return (v) => parseEpoch(v, 'ms');
      case 'epoch_us':
        return (v) => parseEpoch(v, 'us');
      case 'epoch_ns':
        return (v) => parseEpoch(v, 'ns');
      case 'apache':
        return (v) => (typeof v === 'string' ? parseApache(v, z) : undefined);
      case 'syslog':
        return (v, now) => (typeof v === 'string' ? parseSyslogTime(v, now, z) : undefined);
      case 'klog':
        return (v, now) => (typeof v === 'string' ? parseKlogTime(v.length > 0 && /[IWEFD]/.test(v[0]!) ? v.slice(1) : v, now, z) : undefined);
      default: {
        if (!f.includes('%')) throw new Error(`unknown time format "${f}" (a named format or a strftime pattern with % directives)`);
        const steps = compileStrftime(f);
        return (v, now) => (typeof v === 'string' ? runStrftime(steps, v, z, now) : undefined);
      }
    }
  });
  if (parsers.length === 1) {
    const only = parsers[0]!;
    return (v, now) => only(typeof v === 'string' ? v.trim() : v, now);
  }
  return (v, now) => {
    const s = typeof v === 'string' ? v.trim() : v;
    for (const p of parsers) {
      const t = p(s, now);
      if (t !== undefined) return t;
    }
    return undefined;
  };
}

/** The formats tried when a `timestamp` step names none. */
export const DEFAULT_TIME_FORMATS: readonly string[] = ['rfc3339', 'epoch', 'apache', 'syslog'];
