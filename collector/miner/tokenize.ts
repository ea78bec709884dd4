/**
 * Tokenizer and generic variable masks for the template miner. Pure: a string in, tokens out.
 *
 * A line is split on whitespace into words, and each word is split further at structural
 * punctuation (`= , ; : ( ) [ ] { } < > " ' |`), which is kept as its own token so that
 * `key=value`, `host:port` and `[tag]` line up position by position across lines. Before that
 * split, patterns that contain such punctuation themselves (timestamps, IPv6 and MAC addresses,
 * URLs) are masked whole. Every remaining piece is masked when it matches one of the generic
 * masks in MASKS below. Nothing here knows any particular system's log format.
 */

/** The variable marker, in tokens and in rendered templates (the Drain / Loghub convention). */
export const VAR = '<*>';

/** A tokenized line: `tokens[i]` is VAR or a constant; `space[i]` is 1 when whitespace preceded it. */
export interface Tokens {
  readonly tokens: string[];
  readonly space: number[];
}

/**
 * The generic masks, for the README (a test keeps its table in step) and for reference. Each is something
 * that varies between occurrences of one event in any system's logs.
 */
export const MASKS: readonly { readonly name: string; readonly example: string; readonly rule: string }[] = [
  { name: 'timestamp', example: '2015-10-18T18:01:47.978Z, 18:01:47,978, 2005-06-03-15.42.50.675872', rule: 'ISO 8601 / RFC 3339 date-times, dates (`2015-10-18`, `2005.06.03`, `17/06/09`) and clock times `hh:mm[:ss[.frac]]`' },
  { name: 'ipv6', example: 'fe80::1ff:fe23:4567:890a', rule: 'hex groups with two or more colons' },
  { name: 'mac', example: '00:1a:2b:3c:4d:5e', rule: 'six or more hex pairs separated by `:` or `-`' },
  { name: 'date names', example: 'Fri Jul 01 08:16:53 PDT 2005', rule: 'a month name next to a number, and a weekday name before it' },
  { name: 'url', example: 'hdfs://10.0.0.1:9000/tmp/x', rule: 'a `scheme://` is kept, the rest up to a closing bracket or quote is one variable' },
  { name: 'ipv4', example: '10.251.73.220 (then `:` port), host-1/10.0.0.1', rule: 'four dotted numbers; a port after `:` is masked as a number; `host/ip` (a Java socket address) is two variables' },
  { name: 'uuid', example: '123e4567-e89b-12d3-a456-426614174000', rule: '8-4-4-4-12 hex' },
  { name: 'email', example: 'ops@example.com', rule: 'local@domain.tld' },
  { name: 'host name', example: 'ns.example.com, 191-210-223-172.user.vivozap.com.br', rule: 'dotted lower-case labels ending in a generic top-level domain (com, net, org, ...), or 3+ labels ending in a country domain when the name has a digit or hyphen' },
  { name: 'size unit', example: '93.0 B, 5.2 KB', rule: 'a byte unit (B, KB, MB, GiB, ...) right after a number joins that variable: size formatters pick the unit by magnitude' },
  { name: 'path', example: '/var/www/html/, ~/x, ./a, C:\\Temp', rule: 'a piece starting with `/`, `~/`, `./`, `../` or a drive letter' },
  { name: 'hex', example: '0x7fff5fbff8c8, deadbeefcafe', rule: '`0x` followed by hex digits, or 12+ hex digits' },
  { name: 'counter prefix', example: 'core.1234 -> core.<*>, #3 -> #<*>', rule: 'a word before `.` or `#` stays when a number follows; the number is the variable' },
  { name: 'dot leader', example: 'illegal instruction......0', rule: 'in `key....value` the dotted key is text and the value is masked on its own' },
  { name: 'variable list', example: 'delete blk_1 blk_2 blk_3 blk_4', rule: 'three or more variables in a row, separated by spaces, become one `<*>` (lists vary in length)' },
  { name: 'number', example: '42, -1, 3.5ms, 64KB, 1e-3', rule: 'a piece that starts with a digit (or a sign then a digit)' },
  { name: 'id with digits', example: 'blk_-1608999687919862906, node-246, broadcast_9', rule: 'a piece with two or more digits, or one digit after a non-letter (a digit glued to letters, as in `ssh2`, `eth0`, `log4j`, stays a word)' },
];

// Patterns that contain `:` (a delimiter) themselves, masked whole in words that have a digit
// and a colon before the word is split. One alternation, one pass; earlier alternatives win.
// A match is replaced by a NUL, and a piece with a NUL becomes one VAR token.
const WORD_MASK = new RegExp(
  [
    // ISO-ish date-times: 2015-10-18T18:01:47.978Z, 2005-06-03-15.42.50.675872
    String.raw`\d{4}-\d{1,2}-\d{1,2}[T-]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?`,
    // dates inside a word: 2015-10-18, 2005.06.03, 17/06/09
    String.raw`(?<![.\d])(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})(?![.\d])`,
    // clock times 18:01:47,978 / 04:47:44 / 10:00 (not the port after an IPv4 address)
    String.raw`(?<![.\d])\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![.\d])`,
    // MAC (before IPv6, which it also looks like); six or more hex pairs
    String.raw`\b[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5,}\b`,
    // IPv6: two or more colons between hex groups
    String.raw`(?:[0-9a-fA-F]{1,4})?(?::[0-9a-fA-F]{0,4}){2,7}(?=$|[^0-9a-zA-Z:])`,
  ].join('|'),
  'g',
);
/**
 * A word masked by WORD_MASK before: its text, where the matches were, and, when every piece
 * of the masked word became a variable or a delimiter, the tokens it gave.
 */
interface MaskedWord {
  readonly word: string;
  /** Start and end (in the word) of each match, in pairs. */
  readonly at: readonly number[];
  /** The tokens the word gave, when they follow from its shape alone (see maskedSplit). */
  tokens: readonly string[] | undefined;
}

/**
 * The last words masked, one per slot, the slot chosen by a hash of the word's classes
 * (maskClass). WORD_MASK cannot tell apart two digits, two hex letters (`a-f`, `A-F`) or two
 * other ASCII letters other than its literals `T` and `Z` (no `i` flag, no other letter or
 * digit literal, no backreference), so a word that differs from a remembered one only within
 * those classes (`[10/Oct/2000:13:55:36`, `[11/Feb/2000:...` on access-log lines) has its
 * matches at the same places: they are reused and the regex is not run. Several slots, not
 * one, because a log's month names (`Oct`, `Feb`) fall into a few class shapes. A pure memo,
 * bounded to MASK_SLOTS words (a word may hold on to the line it was cut from until replaced).
 */
const MASK_SLOTS = 32;
const maskSlots: (MaskedWord | undefined)[] = new Array<MaskedWord | undefined>(MASK_SLOTS).fill(undefined);

/** The memo entry for `line[from, to)`, running WORD_MASK only when no slot holds its shape. */
function maskedEntry(line: string, from: number, to: number): MaskedWord {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) {
    const c = line.charCodeAt(k);
    h = Math.imul(h ^ (c < 128 ? MASK_CLASS[c]! : c), 0x01000193);
  }
  const slot = (h ^ (h >>> 16)) & (MASK_SLOTS - 1);
  const e = maskSlots[slot];
  if (e !== undefined && sameDigitShape(line, from, to, e.word)) return e;
  const word = line.slice(from, to);
  const at: number[] = [];
  WORD_MASK.lastIndex = 0;
  // WORD_MASK never matches the empty string, so this visits the matches replace() would.
  for (let m = WORD_MASK.exec(word); m !== null; m = WORD_MASK.exec(word)) at.push(m.index, m.index + m[0].length);
  const fresh: MaskedWord = { word, at, tokens: undefined };
  maskSlots[slot] = fresh;
  return fresh;
}

/**
 * Set by flushPiece and pushUrl when a token they push depends on a piece's letters (a
 * constant, a URL scheme, a variable found by its text), not only on its shape.
 */
let textDependent = false;

/**
 * Masks `line[from, to)` with WORD_MASK (each match becomes one NUL) and splits the result at
 * delimiters. When every piece of the masked word starts with a digit or a match (a variable)
 * or is a delimiter, the tokens follow from the word's classes alone (delimiters and `.` are
 * classes of their own): they are remembered with the memo entry and pushed again for a word
 * of the same shape, without building the masked word (an access log's `[10/Oct/2000:13:55:36`
 * gives `[` and `<*>` on every line: bench/miner.mjs, nginx, ~30 % of the tokenizer's time).
 */
function maskedSplit(line: string, from: number, to: number, spaceBefore: number, tokens: string[], space: number[]): void {
  const e = maskedEntry(line, from, to);
  const known = e.tokens;
  if (known !== undefined) {
    for (let k = 0; k < known.length; k++) {
      tokens.push(known[k]!);
      space.push(k === 0 ? spaceBefore : 0);
    }
    return;
  }
  const at = e.at;
  if (at.length === 0) {
    splitPieces(line, from, to, spaceBefore, tokens, space);
    return;
  }
  let w = '';
  let p = 0;
  for (let k = 0; k < at.length; k += 2) {
    w += line.slice(from + p, from + at[k]!) + NUL;
    p = at[k + 1]!;
  }
  w += line.slice(from + p, to);
  const before = tokens.length;
  textDependent = false;
  splitPieces(w, 0, w.length, spaceBefore, tokens, space);
  if (!textDependent && e.word.indexOf(NUL) < 0) e.tokens = tokens.slice(before);
}

/** `s[from, to)` equals `w` up to WORD_MASK's classes (maskClass). */
function sameDigitShape(s: string, from: number, to: number, w: string): boolean {
  if (w.length !== to - from) return false;
  for (let k = 0; k < w.length; k++) {
    const a = s.charCodeAt(from + k);
    const b = w.charCodeAt(k);
    if (a !== b && (a >= 128 || b >= 128 || MASK_CLASS[a] !== MASK_CLASS[b])) return false;
  }
  return true;
}

/**
 * Characters WORD_MASK treats alike share a class: digits; hex letters; other ASCII letters but
 * `T` and `Z` (literals in it). Every other character is its own class.
 */
const MASK_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const l = c | 0x20;
  // The shared classes are numbered above 127, so that no character's own class equals them.
  if (c >= 48 && c <= 57) MASK_CLASS[c] = 200;
  else if (c === 84 || c === 90) MASK_CLASS[c] = c;
  else if (l >= 97 && l <= 102 && isLetter(c)) MASK_CLASS[c] = 201;
  else if (isLetter(c)) MASK_CLASS[c] = 202;
  else MASK_CLASS[c] = c;
}

// Quick filters so that most words never meet a regex.
const RE_UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const RE_EMAIL = /^[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;
const RE_HEX_LONG = /^[0-9a-fA-F]{12,}$/;
// Host names: dotted lower-case labels ending in a common generic top-level domain, or two or
// more dots and a two-letter country domain (`mapred.task.id` has no hyphen or digit: a key).
const RE_HOST = /^(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|edu|gov|mil|int|info|biz|io|local|lan|internal|localdomain)|(?=[a-z0-9.-]*[0-9-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.){2,}[a-z]{2})$/;
/** Units that a human-readable size formatter picks by magnitude, so they vary with the number. */
const SIZE_UNITS = new Set(['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'kB', 'K', 'M', 'G', 'T']);

/**
 * SIZE_UNITS.has, with its first test on the length and first letter: a Set lookup by a string
 * just sliced from the line computes that string's hash in the runtime, dear on the hot path.
 */
function isSizeUnit(w: string): boolean {
  if (w.length > 3) return false;
  const c = w.charCodeAt(0);
  return (c === 66 || c === 75 || c === 77 || c === 71 || c === 84 || c === 80 || c === 107) && SIZE_UNITS.has(w); // B K M G T P k
}

const NUL = '\u0000';

/** Delimiters split off as their own constant tokens. */
function isDelim(c: number): boolean {
  switch (c) {
    case 61: // =
    case 44: // ,
    case 59: // ;
    case 58: // :
    case 40: // (
    case 41: // )
    case 91: // [
    case 93: // ]
    case 123: // {
    case 125: // }
    case 60: // <
    case 62: // >
    case 34: // "
    case 39: // '
    case 124: // |
      return true;
    default:
      return false;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** True when a piece (no whitespace, no delimiters) is a variable by the generic masks. */
export function isVariablePiece(p: string): boolean {
  const n = p.length;
  if (n === 0) return false;
  const c0 = p.charCodeAt(0);
  // numbers, and things that start with one (3.5ms, 64KB, 0x1f, 1e-3, 2.5GB)
  if (isDigit(c0)) return true;
  if ((c0 === 45 || c0 === 43) && n > 1 && isDigit(p.charCodeAt(1))) return true;
  // paths
  if (c0 === 47 /* / */ && n > 1) return true;
  if (c0 === 126 /* ~ */ && n > 1 && p.charCodeAt(1) === 47) return true;
  if (c0 === 46 /* . */ && n > 2 && (p.charCodeAt(1) === 47 || (p.charCodeAt(1) === 46 && p.charCodeAt(2) === 47))) return true;
  if (c0 === 92 /* \ */ && n > 1 && p.charCodeAt(1) === 92) return true; // UNC \\host\share
  if (n > 2 && p.charCodeAt(1) === 58 && p.charCodeAt(2) === 92) return true; // C:\dir
  let digits = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    if (isDigit(p.charCodeAt(i))) {
      digits++;
      at = i;
    }
  }
  if (digits >= 2) return true;
  // One digit: a counter after a separator (`broadcast_9`, `node-7`, `#3`) varies; one glued to
  // letters (`ssh2`, `eth0`, `log4j`, `IPv4`) is part of a name.
  if (digits === 1 && !isLetter(p.charCodeAt(at - 1))) return true;
  if (n >= 6 && p.indexOf('.') > 0 && RE_HOST.test(p)) return true;
  if (n >= 12 && RE_HEX_LONG.test(p)) return true;
  if (n === 36 && RE_UUID.test(p)) return true; // a UUID with fewer than two digits
  if (n >= 6 && p.indexOf('@') > 0 && RE_EMAIL.test(p)) return true; // a@b.cc is the shortest
  return false;
}

/**
 * Tokenizes one line (at most `maxTokens` tokens; the rest is one VAR so that a very long
 * line costs bounded work and still clusters by its start).
 */
export function tokenize(line: string, maxTokens = 256): Tokens {
  const out: Tokens = { tokens: [], space: [] };
  tokenizeInto(line, maxTokens, out);
  return out;
}

/**
 * Empties an array and keeps its storage: `a.length = 0` makes V8 free the backing store, so
 * every line grew two arrays anew (about 1 KB of garbage per nginx line in bench/miner.mjs);
 * emptied by pop() they keep it (about 30 bytes of garbage per line left, measured).
 */
function empty(a: unknown[]): void {
  while (a.length > 0) a.pop();
}

/**
 * tokenize() into caller-owned arrays (emptied first), so the miner's hot path allocates no
 * arrays per line (bench/miner.mjs: about 10% of the time was garbage collection before).
 */
export function tokenizeInto(line: string, maxTokens: number, out: Tokens): void {
  const tokens = out.tokens;
  const space = out.space;
  empty(tokens);
  empty(space);
  monthSeen = false;
  const n = line.length;
  let i = 0;
  let sawSpace = 0;
  let anyDigit = false;
  let wordIndex = -1;
  while (i < n) {
    const c = line.charCodeAt(i);
    const k0 = c < 128 ? CLASS[c]! : 0;
    if (k0 === C_SPACE) {
      sawSpace = 1;
      i++;
      continue;
    }
    wordIndex++;
    const seen = wordIndex < WORD_MEMO_WORDS ? seenWord(line, i, n, wordIndex, c) : -1;
    if (seen >= 0) {
      if (tokens.length >= maxTokens - 1) {
        if (tokens[tokens.length - 1] !== VAR) {
          tokens.push(VAR);
          space.push(sawSpace);
        }
        break;
      }
      const replay = memoTokens[seen]!;
      for (let k = 0; k < replay.length; k++) {
        tokens.push(replay[k]!);
        space.push(k === 0 ? sawSpace : 0);
      }
      const flags = memoFlags[seen]!;
      if ((flags & MEMO_DIGIT) !== 0) anyDigit = true;
      if ((flags & MEMO_MONTH) !== 0) monthSeen = true;
      sawSpace = 0;
      i += memoText[seen]!.length;
      continue;
    }
    // One pass over the word: its digits, whether it has delimiters or a colon.
    let j = i + 1;
    let digits = k0 === C_DIGIT ? 1 : 0;
    let delims = 0;
    // Where the delimiters are and how many digits each piece between them has, recorded as
    // the word is read, so that splitting it (splitAt) reads no character a second time.
    let lastDigits = 0;
    // The piece being read's last `/` (or -1), DOT_LEADER once it has `..`.
    let pieceRead = c === 47 ? i : -1;
    if (k0 === C_DELIM) {
      delimAt[0] = i;
      pieceDigits[0] = 0;
      pieceSlash[0] = -1;
      delims = 1;
    }
    let colon = c === 58;
    // `..` (a dot leader), `.` then a digit after a word (`core.1234`), or a `/` inside: the
    // slow path decides (rare in numbers and ids).
    let dots = false;
    let dotdot = false;
    let slash = false;
    // The last `/` in the word (plainVariable's `host/a.b.c.d` test), -1 when none.
    let lastSlash = c === 47 ? i : -1;
    let prev = c;
    while (j < n) {
      const d = line.charCodeAt(j);
      // Letters (class 0, most characters) take one comparison.
      const k = d < 128 ? CLASS[d]! : 0;
      if (k !== 0) {
        if (k === C_SPACE) break;
        if (k === C_DIGIT) {
          digits++;
          if (prev === 46) dots = true;
        } else if (k === C_DELIM) {
          if (delims < MAX_DELIMS_AT) {
            delimAt[delims] = j;
            pieceDigits[delims] = digits - lastDigits;
            pieceSlash[delims] = pieceRead;
            lastDigits = digits;
          }
          pieceRead = -1;
          delims++;
          if (d === 58) colon = true;
        } else if (k === C_DOT) {
          if (prev === 46) {
            dots = true;
            dotdot = true;
            pieceRead = DOT_LEADER;
          }
        } else {
          // C_SLASH
          lastSlash = j;
          if (pieceRead !== DOT_LEADER) pieceRead = j;
          if (j > i + 1) slash = true;
        }
      }
      prev = d;
      j++;
    }
    if (tokens.length >= maxTokens - 1) {
      if (tokens[tokens.length - 1] !== VAR) {
        tokens.push(VAR);
        space.push(sawSpace);
      }
      break;
    }
    if (digits > 0) anyDigit = true;
    if (delims === 0) {
      if ((digits >= 2 || (digits === 1 && k0 === C_DIGIT)) && (!dots || (!dotdot && (k0 === C_DIGIT || !mayBeCounter(line, i, j)))) && c !== 35 && (!slash || k0 === C_DIGIT || c === 47)) {
        // A number or an id with digits: a variable, decided without copying the text.
        tokens.push(VAR);
        space.push(sawSpace);
        // `... to server: host:8030.` - a full stop after a number is text.
        if (k0 === C_DIGIT && j - i > 1 && line.charCodeAt(j - 1) === 46) {
          tokens.push('.');
          space.push(0);
        }
      } else if (digits >= 2 && plainVariableRead(line, i, j, dotdot, lastSlash)) {
        tokens.push(VAR);
        space.push(sawSpace);
      } else {
        const known = knownConstant(line, i, j, tokens.length);
        const word = known ?? line.slice(i, j);
        // `93.0 B` / `5.2 KB`: the unit is part of the variable (glued, so rendering merges them).
        if (digits === 0 && sawSpace === 1 && tokens.length > 0 && tokens[tokens.length - 1] === VAR && isSizeUnit(word)) {
          tokens.push(VAR);
          space.push(0);
        } else if (known !== undefined) {
          pushConstant(known, sawSpace, tokens, space);
        } else {
          pushPiece(word, sawSpace, tokens, space);
        }
      }
    } else if (digits > 0 && colon) {
      // Timestamps, MAC and IPv6 addresses contain `:`: mask them whole before splitting.
      maskedSplit(line, i, j, sawSpace, tokens, space);
    } else if (delims <= MAX_DELIMS_AT) {
      pieceDigits[delims] = digits - lastDigits;
      pieceSlash[delims] = pieceRead;
      const before = tokens.length;
      const monthBefore: boolean = monthSeen;
      monthSeen = false;
      splitAt(line, i, j, delims, sawSpace, tokens, space);
      if (wordIndex < WORD_MEMO_WORDS && !mayBeSizeUnitInitial(c)) rememberWord(wordIndex, line, i, j, tokens, before, (digits > 0 ? MEMO_DIGIT : 0) | (monthSeen ? MEMO_MONTH : 0));
      monthSeen ||= monthBefore;
    } else {
      splitPieces(line, i, j, sawSpace, tokens, space);
    }
    sawSpace = 0;
    i = j;
  }
  if (anyDigit) {
    if (monthSeen) maskDateNames(tokens);
    collapseRuns(tokens, space);
  }
}

/**
 * Runs of this many or more variables separated by spaces become one: lists (of block ids, of
 * nodes, of numbers) vary in length, and each length would otherwise be its own template.
 */
export const MAX_VAR_RUN = 3;

function collapseRuns(tokens: string[], space: number[]): void {
  // Most lines have no such run: look before rewriting.
  let run = 0;
  let found = false;
  for (let r = 0; r < tokens.length && !found; r++) {
    run = tokens[r] === VAR ? (run > 0 && space[r] === 1 ? run + 1 : 1) : 0;
    if (run >= MAX_VAR_RUN) found = true;
  }
  if (!found) return;
  let w = 0;
  let r = 0;
  const n = tokens.length;
  while (r < n) {
    if (tokens[r] === VAR) {
      let e = r + 1;
      while (e < n && tokens[e] === VAR && space[e] === 1) e++;
      tokens[w] = VAR;
      space[w] = space[r]!;
      w++;
      if (e - r < MAX_VAR_RUN) {
        for (let k = r + 1; k < e; k++) {
          tokens[w] = VAR;
          space[w] = space[k]!;
          w++;
        }
      }
      r = e;
      continue;
    }
    tokens[w] = tokens[r]!;
    space[w] = space[r]!;
    w++;
    r++;
  }
  tokens.length = w;
  space.length = w;
}

/**
 * The tokens of words split at delimiters, remembered by the word's place in the line (its
 * index among the line's words), WORD_MEMO_WAYS words per place. Lines of one kind repeat such
 * words at the same place (an access log's `"Mozilla/5.0`, `(X11;`, `x86_64)`, `HTTP/1.1"`), and
 * a word's tokens depend only on its text (the first token's space aside, which the caller
 * knows), so a word equal to a remembered one is pushed again without being read twice,
 * split or classified: bench/miner.mjs, nginx, about 10 % of the miner's time. Not remembered:
 * words masked whole (timestamps, which rarely repeat), and words whose first piece could be
 * a size unit (`KB,`), which joins the variable before it. A pure memo, bounded to
 * WORD_MEMO_WORDS x WORD_MEMO_WAYS words (each may hold on to the line it was cut from).
 */
const WORD_MEMO_WORDS = 64;
const WORD_MEMO_WAYS = 4;
const MEMO_DIGIT = 1;
const MEMO_MONTH = 2;
const memoText: (string | undefined)[] = new Array<string | undefined>(WORD_MEMO_WORDS * WORD_MEMO_WAYS).fill(undefined);
const memoTokens: (readonly string[] | undefined)[] = new Array<readonly string[] | undefined>(WORD_MEMO_WORDS * WORD_MEMO_WAYS).fill(undefined);
/** Each remembered word's first character (-1: none remembered). */
const memoFirst = new Int32Array(WORD_MEMO_WORDS * WORD_MEMO_WAYS).fill(-1);
/** Per place, the last word not yet remembered: the line it is in and where (no copy). */
const candidateLine: string[] = new Array<string>(WORD_MEMO_WORDS).fill('');
const candidateFrom = new Int32Array(WORD_MEMO_WORDS);
const candidateTo = new Int32Array(WORD_MEMO_WORDS);
/** MEMO_DIGIT: the word has a digit; MEMO_MONTH: it pushed a month name as a constant. */
const memoFlags = new Uint8Array(WORD_MEMO_WORDS * WORD_MEMO_WAYS);
/** Per place, the way the next remembered word replaces (round robin). */
const memoNext = new Uint8Array(WORD_MEMO_WORDS);

/**
 * The memo slot holding the word at `s[from, ...)` (whole, up to whitespace or the end), or -1.
 * `c` is its first character: most words differ from a remembered one there, at no cost.
 */
function seenWord(s: string, from: number, n: number, wordIndex: number, c: number): number {
  const base = wordIndex * WORD_MEMO_WAYS;
  for (let w = base; w < base + WORD_MEMO_WAYS; w++) {
    if (memoFirst[w] !== c) continue;
    const t = memoText[w]!;
    const end = from + t.length;
    if (end > n) continue;
    if (end < n) {
      const e = s.charCodeAt(end);
      if (e >= 128 || CLASS[e] !== C_SPACE) continue;
    }
    let k = 1;
    while (k < t.length && t.charCodeAt(k) === s.charCodeAt(from + k)) k++;
    if (k === t.length) return w;
  }
  return -1;
}

/**
 * Remembers the tokens of `s[from, to)`, a word at place `wordIndex`, from its second time in a
 * row there on: the first time only where it is is noted (no copy), so words that never come
 * back (ids, numbers) cost no allocation.
 */
function rememberWord(wordIndex: number, s: string, from: number, to: number, tokens: string[], before: number, flags: number): void {
  const cs = candidateLine[wordIndex]!;
  const cf = candidateFrom[wordIndex]!;
  if (candidateTo[wordIndex]! - cf !== to - from || !sameText(s, from, cs, cf, to - from)) {
    candidateLine[wordIndex] = s;
    candidateFrom[wordIndex] = from;
    candidateTo[wordIndex] = to;
    return;
  }
  const w = wordIndex * WORD_MEMO_WAYS + memoNext[wordIndex]!;
  memoNext[wordIndex] = (memoNext[wordIndex]! + 1) % WORD_MEMO_WAYS;
  memoText[w] = s.slice(from, to);
  memoFirst[w] = s.charCodeAt(from);
  memoTokens[w] = tokens.slice(before);
  memoFlags[w] = flags;
}

function sameText(a: string, af: number, b: string, bf: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a.charCodeAt(af + k) !== b.charCodeAt(bf + k)) return false;
  return true;
}

/** First letters of SIZE_UNITS: B K M G T P k. */
function mayBeSizeUnitInitial(c: number): boolean {
  return c === 66 || c === 75 || c === 77 || c === 71 || c === 84 || c === 80 || c === 107;
}

const C_SPACE = 1;
const C_DIGIT = 2;
const C_DELIM = 3;
const C_DOT = 4;
const C_SLASH = 5;
/** Character classes of ASCII, one lookup per character on the hot path. */
const CLASS = new Uint8Array(128);
for (const c of [32, 9, 10, 11, 12, 13]) CLASS[c] = C_SPACE;
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;
for (let c = 0; c < 128; c++) if (isDelim(c)) CLASS[c] = C_DELIM;
CLASS[46] = C_DOT;
CLASS[47] = C_SLASH;

/** A cheap pre-check for RE_COUNTER (`core.1234`, `#3`): a `#` first, or a `.` then a digit. */
function mayBeCounter(s: string, from: number, to: number): boolean {
  if (s.charCodeAt(from) === 35) return true;
  for (let k = from + 2; k < to - 1; k++) {
    if (s.charCodeAt(k) === 46) {
      const d = s.charCodeAt(k + 1);
      return d >= 48 && d <= 57;
    }
  }
  return false;
}

function hasDotLeader(s: string, from: number, to: number): boolean {
  for (let k = from; k < to - 1; k++) if (s.charCodeAt(k) === 46 && s.charCodeAt(k + 1) === 46) return true;
  return false;
}

/** Splits `w[from, to)` (one word) at delimiters, which become tokens of their own. */
function splitPieces(w: string, from: number, to: number, spaceBefore: number, tokens: string[], space: number[]): void {
  let start = from;
  let sp = spaceBefore;
  // Digits of the piece being read: a piece with fewer than two is no plainVariable.
  let pd = 0;
  for (let k = from; k < to; k++) {
    const c = w.charCodeAt(k);
    const kc = c < 128 ? CLASS[c]! : 0;
    if (kc !== C_DELIM) {
      if (kc === C_DIGIT) pd++;
      continue;
    }
    const next = atDelimiter(w, from, to, start, k, sp, spaceBefore, pd, UNKNOWN, tokens, space);
    if (next < 0) continue;
    start = next;
    k = start - 1;
    sp = 0;
    pd = 0;
  }
  if (to > start) flushPiece(w, start, to, sp, start === from && spaceBefore === 1, tokens, space, pd, UNKNOWN);
}

/**
 * The delimiter at k of the word s[from, to), the current piece being s[start, k) with `pd`
 * digits (`read`: flushPiece's): a URL's `://` takes the word's rest up to a closing bracket,
 * quote or comma as one variable; otherwise the piece goes out, then the delimiter as a token of
 * its own. Returns where the next piece starts, or -1 when k is a drive letter's colon (`C:\`,
 * part of the piece). splitPieces and splitAt share it, so both split a word the same way.
 */
function atDelimiter(s: string, from: number, to: number, start: number, k: number, sp: number, spaceBefore: number, pd: number, read: number, tokens: string[], space: number[]): number {
  const c = s.charCodeAt(k);
  if (c === 58 /* : */ && s.charCodeAt(k + 1) === 47 && s.charCodeAt(k + 2) === 47 && k > start) return pushUrl(s, start, k, to, sp, tokens, space);
  if (c === 58 && k === start + 1 && s.charCodeAt(k + 1) === 92) return -1;
  if (k > start) {
    flushPiece(s, start, k, sp, start === from && spaceBefore === 1, tokens, space, pd, read);
    sp = 0;
  }
  tokens.push(DELIM_TOKEN[c]!);
  space.push(sp);
  return k + 1;
}

/**
 * A URL whose `://` is at k: pushes `scheme://` and one variable for the rest, up to a closing
 * bracket, quote or comma; returns where that rest ends.
 */
function pushUrl(s: string, start: number, k: number, to: number, sp: number, tokens: string[], space: number[]): number {
  textDependent = true;
  tokens.push(s.slice(start, k) + '://');
  space.push(sp);
  let e = k + 3;
  while (e < to) {
    const d = s.charCodeAt(e);
    if (d === 93 || d === 41 || d === 125 || d === 62 || d === 34 || d === 39 || d === 44) break;
    e++;
  }
  if (e > k + 3) {
    tokens.push(VAR);
    space.push(0);
  }
  return e;
}

/**
 * The delimiters of the word being read: `delimAt[m]` is the m-th one's position in the line,
 * `pieceDigits[m]` the number of digits between the one before (or the word's start) and it,
 * `pieceDigits[count]` the digits after the last. Scratch, overwritten by every word, bounded:
 * a word with more than MAX_DELIMS_AT delimiters is split by splitPieces, reading it again.
 */
const MAX_DELIMS_AT = 1024;
const delimAt: number[] = [0];
const pieceDigits: number[] = [0, 0];
/** Per piece, as pieceDigits: DOT_LEADER when it has `..`, else its last `/` or -1. */
const pieceSlash: number[] = [-1, -1];
const UNKNOWN = -2;
const DOT_LEADER = -3;

/**
 * splitPieces(s, from, to, ...) for a word of the line whose `count` delimiters the caller
 * recorded in delimAt / pieceDigits while reading it: the same tokens, without reading the
 * word's characters again (but for a URL's tail, which splitPieces also reads twice).
 */
function splitAt(s: string, from: number, to: number, count: number, spaceBefore: number, tokens: string[], space: number[]): void {
  let start = from;
  let sp = spaceBefore;
  // Digits in s[start, k): the pieces between delimiters, summed while start stays put.
  let pd = 0;
  for (let m = 0; m < count; m++) {
    const k = delimAt[m]!;
    if (k < start) continue; // inside a URL's variable tail
    // The piece before k starts at or after start unless it began inside a URL's tail (then
    // start is k itself and the piece is empty).
    if (m === 0 || delimAt[m - 1]! >= start - 1) pd += pieceDigits[m]!;
    // A piece that is exactly the text between two recorded delimiters: its scan is known.
    const read = start === (m === 0 ? from : delimAt[m - 1]! + 1) ? pieceSlash[m]! : UNKNOWN;
    const next = atDelimiter(s, from, to, start, k, sp, spaceBefore, pd, read, tokens, space);
    if (next < 0) continue;
    start = next;
    sp = 0;
    pd = 0;
  }
  if (to > start) {
    if (count === 0 || delimAt[count - 1]! >= start - 1) pd += pieceDigits[count]!;
    const read = start === (count === 0 ? from : delimAt[count - 1]! + 1) ? pieceSlash[count]! : UNKNOWN;
    flushPiece(s, start, to, sp, start === from && spaceBefore === 1, tokens, space, pd, read);
  }
}

/** Interned one-character delimiter tokens. */
const DELIM_TOKEN: string[] = [];
for (let c = 0; c < 128; c++) DELIM_TOKEN.push(String.fromCharCode(c));

/** `digits`: how many digits w[start, end) has (counted by the caller's scan). */
/**
 * `read`: what the caller's scan found in w[start, end): UNKNOWN, DOT_LEADER (it has `..`), or
 * the position of its last `/` (-1 for none); with it, no character is read again here.
 */
function flushPiece(w: string, start: number, end: number, sp: number, wordStart: boolean, tokens: string[], space: number[], digits: number, read: number): void {
  const c0 = w.charCodeAt(start);
  if ((c0 < 128 && CLASS[c0] === C_DIGIT) || c0 === 0) {
    // a number (or a masked timestamp): no need to copy the text
    if (read === UNKNOWN ? !hasDotLeader(w, start, end) : read !== DOT_LEADER) {
      tokens.push(VAR);
      space.push(sp);
      if (end - start > 1 && w.charCodeAt(end - 1) === 46) {
        tokens.push('.');
        space.push(0);
      }
      return;
    }
  }
  textDependent = true;
  if (digits >= 2 && (read === UNKNOWN ? plainVariable(w, start, end) : plainVariableRead(w, start, end, read === DOT_LEADER, read))) {
    tokens.push(VAR);
    space.push(sp);
    return;
  }
  const known = knownConstant(w, start, end, tokens.length);
  const piece = known ?? w.slice(start, end);
  if (known === undefined && piece.indexOf(NUL) >= 0) {
    tokens.push(VAR);
    space.push(sp);
  } else if (wordStart && tokens.length > 0 && tokens[tokens.length - 1] === VAR && isSizeUnit(piece)) {
    tokens.push(VAR);
    space.push(0);
  } else if (known !== undefined) {
    pushConstant(known, sp, tokens, space);
  } else {
    pushPiece(piece, sp, tokens, space);
  }
}

/**
 * The constant that pushPiece last pushed at each token position. Lines of one kind repeat
 * their constant words at the same positions (`GET`, `Linux`, `like`, `Gecko` on every access
 * line), and pushPiece's answer depends only on the text: when the text at a position equals
 * the constant found there before, that string is pushed again without copying the text or
 * classifying it anew, and the shape cache then compares it by identity. A pure memo, checked
 * character by character, of at most MAX_KNOWN positions (a remembered piece may hold on to the
 * line it was cut from until another replaces it).
 */
const MAX_KNOWN = 256;
const lastConstant: (string | undefined)[] = new Array<string | undefined>(MAX_KNOWN).fill(undefined);

function knownConstant(s: string, from: number, to: number, at: number): string | undefined {
  if (at >= MAX_KNOWN) return undefined;
  const t = lastConstant[at];
  if (t === undefined || t.length !== to - from) return undefined;
  for (let k = 0; k < t.length; k++) if (t.charCodeAt(k) !== s.charCodeAt(from + k)) return undefined;
  return t;
}

/** pushPiece's last step, for a piece it pushes whole as a constant. */
function pushConstant(piece: string, sp: number, tokens: string[], space: number[]): void {
  if (piece.length === 3 && isMonthInitial(piece.charCodeAt(0)) && MONTHS.has(piece)) monthSeen = true;
  if (tokens.length < MAX_KNOWN) lastConstant[tokens.length] = piece;
  tokens.push(piece);
  space.push(sp);
}

/**
 * Pushes one piece. A dot leader (`illegal instruction......0`, as in aligned `key....value`
 * dumps) separates a constant key from its value.
 */
function pushPiece(piece: string, sp: number, tokens: string[], space: number[]): void {
  const dots = piece.indexOf('..');
  if (dots >= 0) {
    let e = dots + 2;
    while (e < piece.length && piece.charCodeAt(e) === 46) e++;
    if (e < piece.length) {
      const key = piece.slice(0, e);
      tokens.push(key);
      space.push(sp);
      const value = piece.slice(e);
      tokens.push(isVariablePiece(value) ? VAR : value);
      space.push(0);
      return;
    }
  }
  if (isVariablePiece(piece)) {
    // `host/10.0.0.1`, as Java prints a resolved socket address: two variables.
    const slash = piece.charCodeAt(0) === 47 ? -1 : piece.lastIndexOf('/');
    if (slash > 0 && isDigit(piece.charCodeAt(slash + 1)) && mayBeIpv4(piece, slash + 1, piece.length) && RE_IPV4.test(piece.slice(slash + 1))) {
      tokens.push(VAR, '/', VAR);
      space.push(sp, 0, 0);
      return;
    }
    // Keep a word prefix before `.` or `#` when a number follows (`core.1234` -> `core.<*>`,
    // `#3` -> `#<*>`): the prefix says what the number counts. Not before `-` or `_`, which
    // join the parts of host names and ids (`web-1`, `rdd_42_20`) that vary as a whole.
    const m = mayBeCounterPiece(piece, 0, piece.length) ? RE_COUNTER.exec(piece) : null;
    if (m !== null) {
      tokens.push(m[1]!);
      space.push(sp);
      tokens.push(VAR);
      space.push(0);
      return;
    }
    tokens.push(VAR);
    space.push(sp);
    return;
  }
  pushConstant(piece, sp, tokens, space);
}

/**
 * True when pushPiece(s.slice(from, to)) would push exactly one VAR and nothing else: two or
 * more digits, no dot leader, no `host/a.b.c.d` tail, no counter prefix (`core.12`, `#3`).
 * Decided on the line, so the commonest variables (`HTTP/1.1`, `Mozilla/5.0`, `x86_64`) cost
 * no copy; anything else answers false and takes the general path.
 */
function plainVariable(s: string, from: number, to: number): boolean {
  let digits = 0;
  let slash = -1;
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46) {
      if (k + 1 < to && s.charCodeAt(k + 1) === 46) return false;
    } else if (c === 47) slash = k;
  }
  if (digits < 2) return false;
  if (slash > from && s.charCodeAt(from) !== 47 && slash + 1 < to && isDigit(s.charCodeAt(slash + 1)) && mayBeIpv4(s, slash + 1, to)) return false;
  return !mayBeCounterPiece(s, from, to);
}

/**
 * plainVariable(s, from, to) for a word with two or more digits and no delimiter, given what the
 * caller's scan of it found (whether it has `..`, its last `/`): the same answer without
 * counting its digits or looking for dots and slashes again.
 */
function plainVariableRead(s: string, from: number, to: number, dotdot: boolean, slash: number): boolean {
  if (dotdot) return false;
  if (slash > from && s.charCodeAt(from) !== 47 && slash + 1 < to && isDigit(s.charCodeAt(slash + 1)) && mayBeIpv4(s, slash + 1, to)) return false;
  return !mayBeCounterPiece(s, from, to);
}

/** Set when a line has a month name, so that maskDateNames runs only then. */
let monthSeen = false;

const RE_IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const RE_COUNTER = /^([A-Za-z]{2,}\.|#)\d[0-9A-Za-z_]*$/;

/**
 * Necessary conditions of RE_IPV4 on `p[from, to)` (only digits and exactly three dots) and of
 * RE_COUNTER (`#`, or two or more letters then `.` then a digit): most pieces fail them, and
 * then neither a copy nor a regex is made (`Mozilla/5.0`, `HTTP/1.1` on every access-log line).
 */
function mayBeIpv4(p: string, from: number, to: number): boolean {
  let dots = 0;
  for (let k = from; k < to; k++) {
    const c = p.charCodeAt(k);
    if (c === 46) dots++;
    else if (!isDigit(c)) return false;
  }
  return dots === 3;
}

function mayBeCounterPiece(p: string, from: number, to: number): boolean {
  if (p.charCodeAt(from) === 35) return true;
  let k = from;
  while (k < to && isLetter(p.charCodeAt(k))) k++;
  return k - from >= 2 && k + 1 < to && p.charCodeAt(k) === 46 && isDigit(p.charCodeAt(k + 1));
}

/** First letters of the month names: J F M A S O N D. */
function isMonthInitial(c: number): boolean {
  return c === 74 || c === 70 || c === 77 || c === 65 || c === 83 || c === 79 || c === 78 || c === 68;
}

const MONTHS = new Set(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);
const WEEKDAYS = new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);

/**
 * Textual dates (`Fri Jul 01 08:16:53 2005`, `Jul 1`): a month name next to a number, and a
 * weekday name before a month name, are part of a timestamp.
 */
function maskDateNames(tokens: string[]): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 3 && MONTHS.has(t) && (tokens[i + 1] === VAR || tokens[i - 1] === VAR)) {
      tokens[i] = VAR;
      if (i > 0 && WEEKDAYS.has(tokens[i - 1]!)) tokens[i - 1] = VAR;
    }
  }
}

/** Renders tokens as a template string, whitespace as one space, adjacent variables merged. */
export function render(tokens: readonly string[], space: readonly number[]): string {
  let out = '';
  let prevVar = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const isVar = t === VAR;
    if (isVar && prevVar && space[i] === 0) continue;
    if (i > 0 && space[i] === 1) out += ' ';
    out += t;
    prevVar = isVar;
  }
  return out;
}
