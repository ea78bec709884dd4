/**
 * Generic header detection: finds where the message starts in a whole log line, so that the
 * miner learns templates of messages, not of timestamps. Pure, and deliberately conservative:
 * a line is only cut when its start looks like a header (a timestamp near the start, or a
 * severity word after header-looking words); otherwise it is returned whole.
 *
 * What counts as header, in order: everything up to the last timestamp among the first words
 * (dates, clock times, epoch seconds or milliseconds, month and weekday names, `yymmdd hhmmss`);
 * a severity word (`INFO`, `[error]`, `W`, ...) preceded only by header-looking words (numbers,
 * dates, `-`, upper-case words, bracketed words, words with digits); after it, a bracketed
 * thread or logger (`[main]`), a `-`, and a logger or program ending in `:` (`org.a.B:`,
 * `sshd[42]:`). No system's format is known here: syslog, log4j, Python logging, Apache error
 * logs and similar layouts all reduce to these pieces.
 */

const LEVELS = new Set([
  'trace', 'debug', 'fine', 'finer', 'finest', 'info', 'information', 'notice', 'warn', 'warning',
  'error', 'err', 'severe', 'fatal', 'crit', 'critical', 'alert', 'emerg', 'emergency', 'panic',
]);
/**
 * Month and weekday names (all three letters) as numbers, lower-cased letters packed 8 bits
 * each: a lookup by number, where a Set of strings would hash each freshly cut word in the
 * runtime first.
 */
const MONTHS = new Set(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((m) => code3(m, 0)));
const WEEKDAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((m) => code3(m, 0)));

/**
 * The three characters at `i` lower-cased and packed, or -1 unless all three are ASCII letters.
 * (No other character lower-cases into a month or weekday name: toLowerCase maps only the
 * Kelvin sign to an ASCII letter, `k`, which no name contains.)
 */
function code3(w: string, i: number): number {
  let v = 0;
  for (let k = i; k < i + 3; k++) {
    const c = w.charCodeAt(k) | 0x20;
    if (c < 97 || c > 122) return -1;
    v = (v << 8) | c;
  }
  return v;
}

/** `bare(w).toLowerCase()` is a month name (or, with `days`, a weekday name too). */
function isDateName(b: string, days: boolean): boolean {
  if (b.length !== 3) return false;
  const c = code3(b, 0);
  return MONTHS.has(c) || (days && WEEKDAYS.has(c));
}

const RE_DATE = /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T-]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;
// RE_DATE2, `^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$`, is matched by hand: isDate2.
const RE_TIME = /^\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?$/;
const RE_EPOCH = /^1\d{9}(?:\d{3})?(?:\.\d+)?$/;
const RE_COMPACT = /^\d{6}$|^\d{8}$/;

/** How many leading words are searched for a timestamp or a level. */
const SCAN_WORDS = 10;

function bare(w: string): string {
  let s = 0;
  let e = w.length;
  while (s < e && (w[s] === '[' || w[s] === '(' || w[s] === '<')) s++;
  while (e > s && (w[e - 1] === ']' || w[e - 1] === ')' || w[e - 1] === '>' || w[e - 1] === ',' || w[e - 1] === ':')) e--;
  return w.slice(s, e);
}

function isSpace(c: number): boolean {
  // One comparison for the usual character: space, and \t \n \v \f \r (9-13).
  return c <= 32 && (c === 32 || (c >= 9 && c <= 13));
}

function hasDigit(w: string): boolean {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

function isDateSep(c: number): boolean {
  return c === 45 || c === 47 || c === 46; // - / .
}

/**
 * Whether `w` is (part of) a timestamp. Each regex is tried only when a cheap necessary
 * condition of it holds, so a word that fails them all is rejected without a regex.
 */
function isTimeWord(w: string, next: string | undefined, first: boolean): boolean {
  // Cheap rejections first: this runs on the first words of every line.
  if (w.length < 3) return false;
  let c0 = w.charCodeAt(0);
  if (c0 === 91 || c0 === 40) c0 = w.charCodeAt(1); // [ (
  const digitFirst = c0 >= 48 && c0 <= 57;
  if (!digitFirst) {
    if (hasDigit(w)) return false;
    if (w.length > 6) return false;
    if (!isDateName(bare(w), true)) return false;
    if (next === undefined) return false;
    const n0 = next.charCodeAt(next.charCodeAt(0) === 91 ? 1 : 0);
    return (n0 >= 48 && n0 <= 57) || isDateName(bare(next), false);
  }
  const b = bare(w);
  const n = b.length;
  if (n < 3) return false;
  const c1 = b.charCodeAt(1);
  const c2 = b.charCodeAt(2);
  if ((c1 === 58 || c2 === 58) && RE_TIME.test(b)) return true;
  if (n >= 8 && isDateSep(b.charCodeAt(4)) && RE_DATE.test(b)) return true;
  if (isDate2(b, 0, n)) return true;
  // Epoch seconds look like any large count, so they need company: not first, or a time next.
  if (n >= 10 && b.charCodeAt(0) === 49 && RE_EPOCH.test(b)) return !first || (next !== undefined && isTimeWord(next, undefined, false));
  // yymmdd hhmmss (two compact numbers in a row)
  return (n === 6 || n === 8) && RE_COMPACT.test(b) && next !== undefined && RE_COMPACT.test(bare(next));
}

/** RE_DATE2 (`17/06/09`, `1-2-2024`) on `w[from, to)`, by hand: its digit runs are maximal. */
function isDate2(w: string, from: number, to: number): boolean {
  let k = from;
  for (let part = 0; part < 3; part++) {
    const d0 = k;
    while (k < to && isDigitCode(w.charCodeAt(k))) k++;
    const len = k - d0;
    if (part < 2) {
      if (len < 1 || len > 2 || k >= to || !isDateSep(w.charCodeAt(k))) return false;
      k++;
    } else if (len < 2 || len > 4) return false;
  }
  return k === to;
}

/** How many digits `w` has in a row from `from` (up to `to`). */
function digitRun(w: string, from: number, to: number): number {
  let k = from;
  while (k < to && isDigitCode(w.charCodeAt(k))) k++;
  return k - from;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Where the last bareAt's bare part ends (a module slot rather than a tuple per call). */
let bareEnd = 0;

/** bare() of the word `line[s, e)` on the line: returns where it starts, bareEnd where it ends. */
function bareAt(line: string, s: number, e: number): number {
  let b = s;
  let be = e;
  while (b < be && (line.charCodeAt(b) === 91 || line.charCodeAt(b) === 40 || line.charCodeAt(b) === 60)) b++;
  while (be > b) {
    const c = line.charCodeAt(be - 1);
    if (c !== 93 && c !== 41 && c !== 62 && c !== 44 && c !== 58) break;
    be--;
  }
  bareEnd = be;
  return b;
}

/**
 * isTimeWord(word i, word i + 1, first), deciding the commonest answer (no) on the word's
 * place in the line: no copy of it or of the next word, no regex, unless a pattern's necessary
 * condition holds.
 */
function timeWordAt(line: string, i: number, first: boolean): boolean {
  const s = wordStart[i]!;
  const e = wordEnd[i]!;
  if (surelyNotTime(line, s, e)) return false;
  const b = bareAt(line, s, e);
  const be = bareEnd;
  const n = be - b;
  if (n < 3) return false;
  let c0 = line.charCodeAt(s);
  if (c0 === 91 || c0 === 40) c0 = line.charCodeAt(s + 1);
  if (isDigitCode(c0)) {
    // Necessary conditions of RE_TIME, RE_DATE, RE_DATE2 (exact), RE_EPOCH and RE_COMPACT.
    const lead = digitRun(line, b, be);
    const maybe =
      ((lead === 1 || lead === 2) && line.charCodeAt(b + lead) === 58) ||
      (lead === 4 && n >= 8 && isDateSep(line.charCodeAt(b + 4))) ||
      isDate2(line, b, be) ||
      (lead >= 10 && line.charCodeAt(b) === 49) ||
      ((n === 6 || n === 8) && lead === n);
    if (!maybe) return false;
  }
  return isTimeWord(word(i), i + 1 < wordCount ? word(i + 1) : undefined, first);
}

/**
 * isTimeWord's answer is false, decided on the word's place in the line without copying it, for
 * the words most lines start with (`-`, `+0000]`, `"GET`, ...). Only a word that survives this
 * is sliced and tested in full.
 */
function surelyNotTime(line: string, s: number, e: number): boolean {
  if (e - s < 3) return true;
  let c0 = line.charCodeAt(s);
  if (c0 === 91 || c0 === 40) c0 = line.charCodeAt(s + 1);
  if (c0 >= 48 && c0 <= 57) return false;
  if (e - s > 6) return true;
  for (let k = s; k < e; k++) {
    const c = line.charCodeAt(k);
    if (c >= 48 && c <= 57) return true;
  }
  // A month or weekday name, once brackets are trimmed, starts with a letter.
  let b = s;
  while (b < e && (line.charCodeAt(b) === 91 || line.charCodeAt(b) === 40 || line.charCodeAt(b) === 60)) b++;
  const l = line.charCodeAt(b) | 0x20;
  return !(l >= 97 && l <= 122);
}

/** First letters of the level words, lower-cased, as a table: most words fail this before any copy. */
const LEVEL_INITIALS = new Uint8Array(128);
for (const l of LEVELS) LEVEL_INITIALS[l.charCodeAt(0)] = 1;

function isLevelInitial(c: number): boolean {
  return c < 128 && LEVEL_INITIALS[c] === 1;
}

const LEVEL_LIST = [...LEVELS];

/**
 * Whether the word `line[s, e)` is a severity word (`INFO`, `[error]`, `Warning:`): its bare part,
 * lower-cased, is in LEVELS. Decided on the line: no copy of the word, of its bare part or of
 * that lower-cased (the test runs on up to 9 words of every line). Only ASCII letters
 * lower-case into a level word's letters (the Kelvin sign, the one other character that
 * lower-cases to ASCII, gives `k`, which no level word has), so ASCII case folding is exact.
 */
function isLevelAt(line: string, s: number, e: number): boolean {
  if (e - s > 14 || e - s < 1) return false;
  let c = line.charCodeAt(s);
  if ((c === 91 || c === 40 || c === 60) && e - s > 1) c = line.charCodeAt(s + 1);
  if (!isLevelInitial(c | 0x20)) return false;
  const b = bareAt(line, s, e);
  const n = bareEnd - b;
  if (n < 3 || n > 11) return false;
  for (const l of LEVEL_LIST) {
    if (l.length !== n) continue;
    let k = 0;
    while (k < n && lowerAscii(line.charCodeAt(b + k)) === l.charCodeAt(k)) k++;
    if (k === n) return true;
  }
  return false;
}

function lowerAscii(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** isLevelAt's first tests (false: not a level word), for the words most lines fail on. */
function mayBeLevel(line: string, s: number, e: number): boolean {
  const n = e - s;
  if (n > 14 || n < 1) return false;
  let c = line.charCodeAt(s);
  if ((c === 91 || c === 40 || c === 60) && n > 1) c = line.charCodeAt(s + 1);
  return isLevelInitial(c | 0x20);
}

function isHeaderish(w: string): boolean {
  if (w === '-' || w === '|') return true;
  if (hasDigit(w)) return true;
  if (w.startsWith('[') && w.endsWith(']')) return true;
  const b = bare(w);
  return b.length > 0 && b === b.toUpperCase() && /[A-Z]/.test(b);
}

function isLoggerWord(w: string): boolean {
  // Ends in `:`, and a `.`, `[`, `$` or `/` before it (`org.a.B:`, `sshd[42]:`).
  const n = w.length;
  if (n < 2 || w.charCodeAt(n - 1) !== 58) return false;
  for (let k = 0; k < n - 1; k++) {
    const c = w.charCodeAt(k);
    if (c === 46 || c === 91 || c === 36 || c === 47) return true;
  }
  return false;
}

/** Most words looked at per line. */
const MAX_WORDS = SCAN_WORDS + 4;

/**
 * Where each of the first words starts and ends, and the words sliced so far (lazily: most
 * lines are decided on a few characters of each word, and copying 14 words per line was most
 * of this function's cost). Module slots, reset per line: stripHeader does not re-enter itself.
 */
const wordStart = new Int32Array(MAX_WORDS);
const wordEnd = new Int32Array(MAX_WORDS);
const sliced: (string | undefined)[] = new Array<string | undefined>(MAX_WORDS).fill(undefined);
let scanned = '';
let wordCount = 0;

function word(i: number): string {
  let w = sliced[i];
  if (w === undefined) {
    w = scanned.slice(wordStart[i]!, wordEnd[i]!);
    sliced[i] = w;
  }
  return w;
}

/** Returns the message part of a whole log line (the line itself when no header is found). */
export function stripHeader(line: string): string {
  // Find at most SCAN_WORDS + 4 words, remembering where each starts and ends.
  const n = line.length;
  let p = 0;
  let count = 0;
  while (count < MAX_WORDS) {
    while (p < n && isSpace(line.charCodeAt(p))) p++;
    if (p >= n) break;
    const s0 = p;
    while (p < n && !isSpace(line.charCodeAt(p))) p++;
    wordStart[count] = s0;
    wordEnd[count] = p;
    sliced[count] = undefined;
    count++;
  }
  scanned = line;
  wordCount = count;
  const out = findMessage(line);
  // Drop the copies: they must not keep this line alive until the next one.
  for (let i = 0; i < count; i++) sliced[i] = undefined;
  scanned = '';
  return out;
}

function findMessage(line: string): string {
  const count = wordCount;
  if (count < 2) return line;
  let cut = -1;
  for (let i = 0; i < Math.min(SCAN_WORDS - 4, count - 1); i++) {
    if (timeWordAt(line, i, i === 0)) cut = i;
  }
  // The last piece of a bracketed timestamp (`[Sun Dec 04 04:47:44 2005]`) belongs to it.
  if (cut >= 0) {
    // Counted on the line (the spaces between words hold no brackets), copying no word.
    let depth = 0;
    for (let q = wordStart[0]!; q < wordEnd[cut]!; q++) {
      const c = line.charCodeAt(q);
      if (c === 91) depth++;
      else if (c === 93) depth--;
    }
    if (depth > 0) {
      let j = cut + 1;
      while (j < count && !word(j).includes(']')) j++;
      if (j < count && j <= cut + 3) cut = j;
    }
  }
  let level = -1;
  for (let i = Math.max(cut + 1, 1); i < Math.min(SCAN_WORDS, count - 1); i++) {
    if (mayBeLevel(line, wordStart[i]!, wordEnd[i]!) && isLevelAt(line, wordStart[i]!, wordEnd[i]!)) {
      let ok = true;
      for (let j = cut + 1; j < i; j++) if (!isHeaderish(word(j))) ok = false;
      if (ok) level = i;
      break;
    }
  }
  if (cut < 0 && level < 0) return line;
  let i = Math.max(cut, level) + 1;
  if (level >= 0) {
    if (i < count - 1 && word(i).startsWith('[')) {
      // a thread or logger in brackets, possibly with spaces: `[main]`, `[IPC Server handler 3]`
      let j = i;
      while (j < Math.min(count - 1, i + 6) && !word(j).endsWith(']')) j++;
      // one word always; several only when a logger or `-` follows (`[client 1.2.3.4] msg` is message)
      const after = j + 1 < count ? word(j + 1) : undefined;
      if (word(j).endsWith(']') && after !== undefined && (j === i || after === '-' || isLoggerWord(after))) i = j + 1;
    }
    if (i < count - 1 && word(i) === '-') i++;
    if (i < count - 1 && isLoggerWord(word(i))) i++;
    if (i < count - 1 && word(i) === '-') i++;
  } else {
    // syslog-like: numbers, then an optional host, then `program[pid]:` or `a.b.C:`
    while (i < count - 1 && /^[-+]?\d+$/.test(word(i))) i++;
    if (i < count - 1 && isLoggerWord(word(i))) i++;
    else if (i + 1 < count - 1 && !word(i).endsWith(':') && isLoggerWord(word(i + 1))) i += 2;
  }
  if (i >= count) return line;
  return line.slice(wordStart[i]);
}
