/**
 * Keeps secrets out of what the program writes: its log (core/log.ts runs every line through
 * `redactSecrets`), its error messages (cli/main.ts does the same before printing), and config
 * error messages (core/config/check.ts does not echo values under secret keys).
 *
 * Two nets, because neither alone is enough:
 *   - known values: the config loader registers every value under a secret-looking key
 *     (`password`, `auth_token`, an `Authorization` header...), the password and secret query
 *     parameters of URLs, and the values of `${VAR}`s whose name looks secret (`KAFKA_PASSWORD`);
 *     any later occurrence of those exact strings, wherever it comes from (a library's error
 *     message, a URL in a log field), is replaced;
 *   - shapes: `scheme://user:password@`, `Bearer <token>` and `?token=` are masked even when the
 *     value was never registered (a URL typed on the command line).
 *
 * Process-wide state on purpose: the log and the error printer must see what the loader found,
 * and there is one config per process (a SIGHUP reload adds to the set). Bounded: at most
 * MAX_SECRETS values; beyond that the shape rules still apply and `overflowed()` counts the rest.
 */

/** Values kept at most; a config has a handful. */
export const MAX_SECRETS = 256;
/** Shorter values are not matched as substrings (a 2-character password would blank half the log). */
export const MIN_SECRET_CHARS = 4;
export const MASK = '***';

const known = new Set<string>();
let sorted: string[] = [];
let dropped = 0;

/** Key names whose string values are secrets; matched on the last dotted segment, case-insensitive. */
const SECRET_KEY = /(^|[_.-])(password|passwd|passphrase|secret|secret_key|token|auth_token|access_token|api_key|apikey|credentials?|authorization|private_key|cookie)$/i;
/** Environment variable names whose values are secrets. */
const SECRET_VAR = /(PASS|SECRET|TOKEN|BEARER|API_?KEY|CREDENTIAL|PRIVATE_KEY|AUTH|SIGNATURE|_KEY$)/i;
/** URL query parameters whose values are secrets. */
const SECRET_PARAM = /^(token|access_token|auth|auth_token|api_key|apikey|key|password|secret|sig|signature|code)$/i;

export function isSecretKey(key: string): boolean {
  const last = key.split('.').pop() ?? key;
  return SECRET_KEY.test(last);
}

export function isSecretVar(name: string): boolean {
  return SECRET_VAR.test(name);
}

/** Remembers a secret value (and its JSON- and URL-escaped forms, as it may appear in a log line). */
export function registerSecret(value: string): void {
  if (value.length < MIN_SECRET_CHARS) return;
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  let added = false;
  for (const f of forms) {
    if (known.has(f)) continue;
    if (known.size >= MAX_SECRETS) {
      dropped++;
      continue;
    }
    known.add(f);
    added = true;
  }
  // Longest first, so a secret that contains another is masked whole.
  if (added) sorted = [...known].sort((a, b) => b.length - a.length);
}

/** Secret values not remembered because the set was full. */
export function overflowed(): number {
  return dropped;
}

/** Forgets every registered value (tests). */
export function clearSecrets(): void {
  known.clear();
  sorted = [];
  dropped = 0;
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@"'<>]*):([^/\s@"'<>]+)@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g;
const QUERY_SECRET = /([?&])([A-Za-z_]+)=([^&#\s"'<>]+)/g;

/** The text with every registered secret and every secret-shaped part masked. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of sorted) if (out.includes(s)) out = out.split(s).join(MASK);
  if (out.includes('://')) out = out.replace(URL_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
  if (out.includes('Bearer') || out.includes('Basic')) out = out.replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${MASK}`);
  if (out.includes('=')) out = out.replace(QUERY_SECRET, (m, sep: string, name: string) => (SECRET_PARAM.test(name) ? `${sep}${name}=${MASK}` : m));
  return out;
}

/** Registers the secrets of a URL: its password and its secret-named query parameters. */
function registerUrl(text: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return;
  }
  if (u.password !== '') {
    registerSecret(u.password);
    registerSecret(decodeURIComponent(u.password));
  }
  for (const [k, v] of u.searchParams) if (SECRET_PARAM.test(k)) registerSecret(v);
}

/**
 * Walks a config (as parsed, before or after schema checks) and registers its secrets: string
 * values under secret-looking keys (in `headers` maps too: `Authorization: Bearer x` registers
 * the whole value and the token), and URL credentials anywhere.
 */
export function registerConfigSecrets(value: unknown, key = ''): void {
  if (typeof value === 'string') {
    if (isSecretKey(key)) {
      registerSecret(value);
      const m = /^(?:Bearer|Basic)\s+(.+)$/i.exec(value.trim());
      if (m !== null) registerSecret(m[1]!);
    }
    registerUrl(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) registerConfigSecrets(v, key);
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) registerConfigSecrets(v, k);
  }
}

/** Registers the values of the secret-named variables a config string refers to (`${KAFKA_PASSWORD}`). */
export function registerSecretVars(text: string, env: Readonly<Record<string, string | undefined>>): void {
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = m[1]!;
    const v = env[name];
    if (v !== undefined && isSecretVar(name)) registerSecret(v);
  }
}
