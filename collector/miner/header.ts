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
const MONTHS = new Set(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']);
const WEEKDAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

const RE_DATE = /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T-]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;
const RE_DATE2 = /^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$/;
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
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

function hasDigit(w: string): boolean {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

function isTimeWord(w: string, next: string | undefined, first: boolean): boolean {
  // Cheap rejections first: this runs on the first words of every line.
  if (w.length < 3) return false;
  let c0 = w.charCodeAt(0);
  if (c0 === 91 || c0 === 40) c0 = w.charCodeAt(1); // [ (
  const digitFirst = c0 >= 48 && c0 <= 57;
  if (!digitFirst) {
    if (hasDigit(w)) return false;
    if (w.length > 6) return false;
    const l = bare(w).toLowerCase();
    if (!MONTHS.has(l) && !WEEKDAYS.has(l)) return false;
    if (next === undefined) return false;
    const n0 = next.charCodeAt(next.charCodeAt(0) === 91 ? 1 : 0);
    return (n0 >= 48 && n0 <= 57) || MONTHS.has(bare(next).toLowerCase());
  }
  const b = bare(w);
  if (b.length < 3) return false;
  if (RE_TIME.test(b) || RE_DATE.test(b) || RE_DATE2.test(b)) return true;
  // Epoch seconds look like any large count, so they need company: not first, or a time next.
  if (RE_EPOCH.test(b)) return !first || (next !== undefined && isTimeWord(next, undefined, false));
  // yymmdd hhmmss (two compact numbers in a row)
  return RE_COMPACT.test(b) && next !== undefined && RE_COMPACT.test(bare(next));
}

/** First letters of the level words, lower-cased: most words fail this before any copy. */
const LEVEL_INITIALS = new Set([...LEVELS].map((l) => l.charCodeAt(0)));

function isLevelWord(w: string): boolean {
  if (w.length > 14 || w.length < 1) return false;
  let c = w.charCodeAt(0);
  if ((c === 91 || c === 40 || c === 60) && w.length > 1) c = w.charCodeAt(1); // [ ( <
  if (!LEVEL_INITIALS.has(c | 0x20)) return false;
  return LEVELS.has(bare(w).toLowerCase());
}

function isHeaderish(w: string): boolean {
  if (w === '-' || w === '|') return true;
  if (/\d/.test(w)) return true;
  if (w.startsWith('[') && w.endsWith(']')) return true;
  const b = bare(w);
  return b.length > 0 && b === b.toUpperCase() && /[A-Z]/.test(b);
}

function isLoggerWord(w: string): boolean {
  return w.length > 1 && w.endsWith(':') && /[.[$/]/.test(w.slice(0, -1));
}

/** Returns the message part of a whole log line (the line itself when no header is found). */
export function stripHeader(line: string): string {
  // Split off at most SCAN_WORDS + 4 words, remembering where each starts.
  const starts: number[] = [];
  const words: string[] = [];
  const n = line.length;
  let p = 0;
  while (words.length < SCAN_WORDS + 4) {
    while (p < n && isSpace(line.charCodeAt(p))) p++;
    if (p >= n) break;
    const s0 = p;
    while (p < n && !isSpace(line.charCodeAt(p))) p++;
    starts.push(s0);
    words.push(line.slice(s0, p));
  }
  if (words.length < 2) return line;
  let cut = -1;
  for (let i = 0; i < Math.min(SCAN_WORDS - 4, words.length - 1); i++) {
    if (isTimeWord(words[i]!, words[i + 1], i === 0)) cut = i;
  }
  // The last piece of a bracketed timestamp (`[Sun Dec 04 04:47:44 2005]`) belongs to it.
  if (cut >= 0) {
    let depth = 0;
    for (let k = 0; k <= cut; k++) {
      const w = words[k]!;
      for (let q = 0; q < w.length; q++) {
        const c = w.charCodeAt(q);
        if (c === 91) depth++;
        else if (c === 93) depth--;
      }
    }
    if (depth > 0) {
      let j = cut + 1;
      while (j < words.length && !words[j]!.includes(']')) j++;
      if (j < words.length && j <= cut + 3) cut = j;
    }
  }
  let level = -1;
  for (let i = Math.max(cut + 1, 1); i < Math.min(SCAN_WORDS, words.length - 1); i++) {
    if (isLevelWord(words[i]!)) {
      let ok = true;
      for (let j = cut + 1; j < i; j++) if (!isHeaderish(words[j]!)) ok = false;
      if (ok) level = i;
      break;
    }
  }
  if (cut < 0 && level < 0) return line;
  let i = Math.max(cut, level) + 1;
  if (level >= 0) {
    if (i < words.length - 1 && words[i]!.startsWith('[')) {
      // a thread or logger in brackets, possibly with spaces: `[main]`, `[IPC Server handler 3]`
      let j = i;
      while (j < Math.min(words.length - 1, i + 6) && !words[j]!.endsWith(']')) j++;
      // one word always; several only when a logger or `-` follows (`[client 1.2.3.4] msg` is message)
      const after = words[j + 1];
      if (words[j]!.endsWith(']') && after !== undefined && (j === i || after === '-' || isLoggerWord(after))) i = j + 1;
    }
    if (i < words.length - 1 && words[i] === '-') i++;
    if (i < words.length - 1 && isLoggerWord(words[i]!)) i++;
    if (i < words.length - 1 && words[i] === '-') i++;
  } else {
    // syslog-like: numbers, then an optional host, then `program[pid]:` or `a.b.C:`
    while (i < words.length - 1 && /^[-+]?\d+$/.test(words[i]!)) i++;
    if (i < words.length - 1 && isLoggerWord(words[i]!)) i++;
    else if (i + 1 < words.length - 1 && !words[i]!.endsWith(':') && isLoggerWord(words[i + 1]!)) i += 2;
  }
  if (i >= words.length) return line;
  return line.slice(starts[i]);
}
