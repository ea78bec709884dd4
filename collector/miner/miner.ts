/**
 * Online log-template mining. Pure core: lines and `now` in, cluster ids and templates out; no
 * I/O, no clock. Same lines in the same order give the same ids in every instance.
 *
 * How a line is placed (Drain's idea of grouping by token count, sharpened):
 * 1. The line is tokenized and its variables masked (tokenize.ts); the masked token sequence is
 *    its *shape*. A bounded cache maps shapes already seen to their cluster: most lines stop here.
 * 2. A new shape joins a cluster of the same token count whose template covers it (equal
 *    constants, `<*>` anywhere). The most specific such cluster wins. Candidates come from a
 *    bucket keyed by token count and first token (Drain's tree, one level deep) plus the
 *    bucket of templates that start with `<*>`.
 * 3. Otherwise it starts a cluster. Then the miner looks at its *family at position p*: the
 *    clusters of that length that differ from it only at p. When a family shows
 *    `minVariants` or more distinct values at p (twice that at the first token), p is a
 *    variable (a user name, a host name without digits) and the family merges into one
 *    template with `<*>` at p. A position with few values (`Link error` / `Link ok`,
 *    `TaskAttempt Transitioned from NEW to UNASSIGNED`) stays constant: that is where Drain,
 *    which merges on a similarity ratio, puts different events together.
 *
 * There is no look-ahead: a line is placed when it comes. What later lines change is the
 * template of an earlier line's cluster (a merge), never which lines share a cluster, except
 * that merged clusters become one.
 *
 * Ids are derived from the template's tokens joined by one space (64-bit FNV-1a; `patternId`),
 * so two instances that learn the same template name it the same, whatever the spacing of the
 * first line each saw. A merge gives the merged template a new id and records
 * old → new aliases; `resolve` follows them, so an id once handed out keeps meaning something.
 *
 * Bounds: at most `maxTemplates` clusters (the least recently seen are evicted and counted),
 * `maxBucket` per bucket (likewise), `maxShapes` cached shapes, `maxAliases` aliases (oldest
 * first out, counted). An evicted template that comes back is learned again under the same id.
 */
import { VAR, render, tokenizeInto } from './tokenize.js';
import type { Tokens } from './tokenize.js';
import { ShapeCache, shapeHash } from './shapes.js';

export interface MinerOptions {
  /** Most clusters kept; beyond it the least recently seen are evicted (counted). */
  readonly maxTemplates: number;
  /** Most distinct shapes cached for the fast path. */
  readonly maxShapes: number;
  /** Most merge aliases kept (oldest dropped first, counted). */
  readonly maxAliases: number;
  /**
   * Most templates sharing a token count and first token (Drain's max_children). A new shape is
   * compared with at most this many (twice, with the `<*>`-first bucket), which bounds the cost
   * of a line unlike any before; beyond it the least recently seen is evicted (counted).
   */
  readonly maxBucket: number;
  /** Distinct values a position must show across otherwise-equal clusters to become `<*>`. */
  readonly minVariants: number;
  /** Most tokens a line is split into; the rest of a longer line is one `<*>`. */
  readonly maxTokens: number;
  /** Lines longer than this many characters are cut before tokenizing. */
  readonly maxLineChars: number;
}

export const DEFAULT_MINER_OPTIONS: MinerOptions = {
  maxTemplates: 20_000,
  maxShapes: 100_000,
  maxAliases: 100_000,
  maxBucket: 512,
  minVariants: 4,
  maxTokens: 256,
  maxLineChars: 16_384,
};

export interface MineResult {
  /** The id of the cluster the line belongs to now. */
  readonly id: string;
  /** That cluster's template, `<*>` for variables. */
  readonly template: string;
  /** True when this line started a new cluster (false when its new cluster merged at once). */
  readonly created: boolean;
  /** Ids merged into `id` while placing this line (each is now an alias of `id`). */
  readonly merged: readonly string[];
}

export interface MinerStats {
  lines: number;
  clusters: number;
  created: number;
  merges: number;
  evicted: number;
  aliasesDropped: number;
  shapeCacheHits: number;
}

interface Cluster {
  id: string;
  tokens: string[];
  space: number[];
  /** How many `<*>` the template has: among templates covering a line, the fewest wins. */
  vars: number;
  count: number;
  lastSeen: number;
  template: string;
  /** Keys into TemplateMiner.buckets and .tails. */
  bucket: string;
  tail: string;
  /** Set when merged away; shape-cache entries follow it. */
  into: Cluster | undefined;
  alive: boolean;
  /** The result of a line that finds this cluster in the shape cache, made once (it never changes). */
  hit: MineResult | undefined;
}

/** `merged` of every result that merged nothing: one frozen array, not one per line. */
const NO_MERGES: readonly string[] = Object.freeze([]);

/** Serialized state (`snapshot` / `restore`); versioned so a future format can read an old one. */
export interface MinerState {
  readonly version: 1;
  readonly clusters: readonly { id: string; tokens: string[]; space: number[]; count: number; last_seen: number }[];
  readonly aliases: readonly (readonly [string, string])[];
  readonly stats: MinerStats;
}

const SEP = '\u001f';

/**
 * A cluster's id: templateId of its tokens joined by one space. Not of the displayed template,
 * which keeps the spacing of the line that made the cluster: two instances that first saw
 * `retry count=3` and `retry count = 3` (the same tokens, one cluster) must name it alike.
 */
export function patternId(tokens: readonly string[]): string {
  return templateId(tokens.join(' '));
}

/** 64-bit FNV-1a of a string (UTF-16 code units), as 16 hex digits. */
export function templateId(template: string): string {
  // Two 32-bit halves: FNV-1a 64 arithmetic done with 16-bit limbs to stay exact in doubles.
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2; // offset basis cbf29ce484222325, low limb first
  for (let i = 0; i < template.length; i++) {
    h0 ^= template.charCodeAt(i) & 0xff;
    const hi = template.charCodeAt(i) >> 8;
    // multiply by the prime 0x100000001b3 (limbs: 0x01b3, 0, 0x0100, 0), twice when a code unit has a high byte
    for (let r = 0; r < (hi > 0 ? 2 : 1); r++) {
      if (r === 1) h0 ^= hi;
      const t0 = h0 * 0x1b3;
      const t1 = h1 * 0x1b3;
      const t2 = h2 * 0x1b3 + h0 * 0x100;
      const t3 = h3 * 0x1b3 + h1 * 0x100;
      h0 = t0 & 0xffff;
      const c1 = t1 + (t0 >>> 16);
      h1 = c1 & 0xffff;
      const c2 = t2 + Math.floor(c1 / 0x10000);
      h2 = c2 & 0xffff;
      h3 = (t3 + Math.floor(c2 / 0x10000)) & 0xffff;
    }
  }
  const hex = (v: number): string => v.toString(16).padStart(4, '0');
  return hex(h3) + hex(h2) + hex(h1) + hex(h0);
}

export class TemplateMiner {
  readonly options: MinerOptions;
  private readonly byId = new Map<string, Cluster>();
  /**
   * Clusters by token count and first token (Drain's tree, one level deep): a template can only
   * cover a line of its length whose first token it shares, or any such line when it starts
   * with `<*>`. Keeps the search for a new shape short when there are many templates.
   */
  private readonly buckets = new Map<string, Cluster[]>();
  /** Clusters by token count and all but the first token: families at position 0. */
  private readonly tails = new Map<string, Cluster[]>();
  private readonly shapes: ShapeCache<Cluster>;
  private readonly aliases = new Map<string, string>();
  private readonly scratch: Tokens = { tokens: [], space: [] };
  private readonly st: MinerStats = { lines: 0, clusters: 0, created: 0, merges: 0, evicted: 0, aliasesDropped: 0, shapeCacheHits: 0 };

  constructor(options: Partial<MinerOptions> = {}) {
    this.options = { ...DEFAULT_MINER_OPTIONS, ...options };
    this.shapes = new ShapeCache(this.options.maxShapes);
  }

  /** Places one line. Never throws on any string. */
  add(line: string, now: number): MineResult {
    this.st.lines++;
    const text = line.length > this.options.maxLineChars ? line.slice(0, this.options.maxLineChars) : line;
    tokenizeInto(text, this.options.maxTokens, this.scratch);
    const hash = shapeHash(this.scratch.tokens, VAR);
    const e = this.shapes.find(hash, this.scratch.tokens);
    if (e !== undefined) {
      let c = e.value;
      while (c.into !== undefined) c = c.into;
      if (c.alive) {
        this.st.shapeCacheHits++;
        c.count++;
        c.lastSeen = now;
        return (c.hit ??= { id: c.id, template: c.template, created: false, merged: NO_MERGES });
      }
      this.shapes.delete(e);
    }
    // A new shape: the scratch arrays are reused for the next line, so the cluster gets copies.
    return this.place(hash, this.scratch.tokens.slice(), this.scratch.space.slice(), now);
  }

  /** The live id an id (possibly merged away) now stands for, or undefined when unknown/evicted. */
  resolve(id: string): string | undefined {
    let cur = id;
    for (let i = 0; i < 64; i++) {
      if (this.byId.has(cur)) return cur;
      const next = this.aliases.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    return undefined;
  }

  /** The current template of a live id (after `resolve`). */
  template(id: string): string | undefined {
    const r = this.resolve(id);
    return r === undefined ? undefined : this.byId.get(r)?.template;
  }

  /** Live clusters, most frequent first. */
  clusters(): { id: string; template: string; count: number; lastSeen: number }[] {
    return [...this.byId.values()].map((c) => ({ id: c.id, template: c.template, count: c.count, lastSeen: c.lastSeen })).sort((a, b) => b.count - a.count);
  }

  stats(): MinerStats {
    return { ...this.st, clusters: this.byId.size };
  }

  /** A JSON-safe copy of the state; `restore` on a fresh miner continues as if never stopped. */
  snapshot(): MinerState {
    return {
      version: 1,
      clusters: [...this.byId.values()].map((c) => ({ id: c.id, tokens: [...c.tokens], space: [...c.space], count: c.count, last_seen: c.lastSeen })),
      aliases: [...this.aliases.entries()],
      stats: this.stats(),
    };
  }

  static restore(state: MinerState, options: Partial<MinerOptions> = {}): TemplateMiner {
    const m = new TemplateMiner(options);
    for (const s of state.clusters) {
      const c = m.newCluster(s.tokens, s.space, s.last_seen);
      c.count = s.count;
      // Keep the recorded id: a template is re-derived identically, but an older format may differ.
      if (c.id !== s.id) {
        m.byId.delete(c.id);
        c.id = s.id;
        m.byId.set(c.id, c);
      }
    }
    for (const [from, to] of state.aliases) m.addAlias(from, to);
    Object.assign(m.st, state.stats, { clusters: m.byId.size });
    return m;
  }

  private place(hash: number, tokens: string[], space: number[], now: number): MineResult {
    let best: Cluster | undefined;
    const own = this.buckets.get(bucketKey(tokens.length, tokens[0]));
    if (own !== undefined) for (const c of own) if (covers(c.tokens, tokens) && (best === undefined || c.vars < best.vars)) best = c;
    if (tokens.length > 0 && tokens[0] !== VAR) {
      const wild = this.buckets.get(bucketKey(tokens.length, VAR));
      if (wild !== undefined) for (const c of wild) if (covers(c.tokens, tokens) && (best === undefined || c.vars < best.vars)) best = c;
    }
    if (best !== undefined) {
      this.shapes.add(hash, tokens, best);
      best.count++;
      best.lastSeen = now;
      return { id: best.id, template: best.template, created: false, merged: NO_MERGES };
    }
    let c = this.newCluster(tokens, space, now);
    c.count = 1;
    this.st.created++;
    const bucket = this.buckets.get(c.bucket);
    if (bucket !== undefined && bucket.length > this.options.maxBucket) {
      let victim: Cluster | undefined;
      for (const o of bucket) if (o !== c && (victim === undefined || o.lastSeen < victim.lastSeen)) victim = o;
      if (victim !== undefined) {
        this.removeCluster(victim);
        this.st.evicted++;
      }
    }
    const merged: string[] = [];
    c = this.mergeFamilies(c, now, merged);
    this.shapes.add(hash, tokens, c);
    if (this.byId.size > this.options.maxTemplates) this.evict(c);
    return { id: c.id, template: c.template, created: merged.length === 0, merged };
  }

  /**
   * Merges `c` with the clusters that differ from it at exactly one position, when that
   * position shows enough distinct values. Repeats, since a merge can complete another family.
   */
  private mergeFamilies(start: Cluster, now: number, merged: string[]): Cluster {
    let c = start;
    for (let round = 0; round < 8; round++) {
      const n = c.tokens.length;
      if (n === 0) return c;
      const fam = new Map<number, Cluster[]>();
      // Differences after the first token: same bucket. At the first token: same tail.
      for (const o of this.buckets.get(bucketKey(n, c.tokens[0])) ?? []) {
        if (o === c) continue;
        const p = singleDiff(c.tokens, o.tokens);
        if (p <= 0) continue;
        let l = fam.get(p);
        if (l === undefined) fam.set(p, (l = []));
        l.push(o);
      }
      const tail = (this.tails.get(c.tail) ?? []).filter((o) => o !== c && o.tokens[0] !== c.tokens[0]);
      if (tail.length > 0) fam.set(0, tail);
      let target = -1;
      for (const [p, members] of fam) {
        // The first token gets twice the evidence: like Drain, which keys its tree on leading
        // tokens, we expect a message to start with constant text (the event's verb or subject).
        const need = p === 0 ? 2 * this.options.minVariants : this.options.minVariants;
        if (members.length + 1 >= need && hasAnchor(c.tokens, p)) {
          if (target < 0 || p < target) target = p;
        }
      }
      if (target < 0) return c;
      const members = fam.get(target)!;
      const tokens = [...c.tokens];
      tokens[target] = VAR;
      c = this.mergeInto(tokens, c.space, [c, ...members], now, merged);
    }
    return c;
  }

  /** Replaces `members` by one cluster with `tokens`; ids alias to the new one. */
  private mergeInto(tokens: string[], space: number[], members: Cluster[], now: number, merged: string[]): Cluster {
    const id = patternId(tokens);
    let target = this.byId.get(id);
    if (target === undefined) {
      target = this.newCluster(tokens, space, now);
      target.count = 0;
    }
    for (const m of members) {
      if (m === target) continue;
      target.count += m.count;
      target.lastSeen = Math.max(target.lastSeen, m.lastSeen);
      this.removeCluster(m);
      m.into = target;
      this.addAlias(m.id, target.id);
      merged.push(m.id);
      this.st.merges++;
    }
    return target;
  }

  private newCluster(tokens: string[], space: number[], now: number): Cluster {
    const template = render(tokens, space);
    let vars = 0;
    for (const t of tokens) if (t === VAR) vars++;
    const c: Cluster = {
      id: patternId(tokens),
      tokens,
      space,
      vars,
      count: 0,
      lastSeen: now,
      template,
      bucket: bucketKey(tokens.length, tokens[0]),
      tail: tokens.length + SEP + tokens.slice(1).join(SEP),
      into: undefined,
      alive: true,
      hit: undefined,
    };
    const existing = this.byId.get(c.id);
    if (existing !== undefined) return existing;
    this.byId.set(c.id, c);
    listAdd(this.buckets, c.bucket, c);
    listAdd(this.tails, c.tail, c);
    this.aliases.delete(c.id);
    return c;
  }

  private removeCluster(c: Cluster): void {
    c.alive = false;
    this.byId.delete(c.id);
    listRemove(this.buckets, c.bucket, c);
    listRemove(this.tails, c.tail, c);
  }

  private addAlias(from: string, to: string): void {
    if (from === to) return;
    this.aliases.set(from, to);
    if (this.aliases.size > this.options.maxAliases) {
      const oldest = this.aliases.keys().next().value;
      if (oldest !== undefined) this.aliases.delete(oldest);
      this.st.aliasesDropped++;
    }
  }

  /** Evicts the least recently seen clusters (a batch, so eviction is amortised), never `keep`. */
  private evict(keep: Cluster): void {
    const batch = Math.max(1, Math.floor(this.options.maxTemplates / 16));
    const victims = [...this.byId.values()].filter((c) => c !== keep).sort((a, b) => a.lastSeen - b.lastSeen || a.count - b.count).slice(0, Math.min(batch, this.byId.size - this.options.maxTemplates + batch - 1));
    for (const v of victims) {
      this.removeCluster(v);
      this.st.evicted++;
    }
  }
}

function bucketKey(n: number, first: string | undefined): string {
  return n === 0 ? '0' : n + SEP + first!;
}

function listAdd(index: Map<string, Cluster[]>, key: string, c: Cluster): void {
  const l = index.get(key);
  if (l === undefined) index.set(key, [c]);
  else l.push(c);
}

function listRemove(index: Map<string, Cluster[]>, key: string, c: Cluster): void {
  const l = index.get(key);
  if (l === undefined) return;
  const i = l.indexOf(c);
  if (i >= 0) l.splice(i, 1);
  if (l.length === 0) index.delete(key);
}

/** True when template `t` covers the token sequence `s` of the same length. */
function covers(t: readonly string[], s: readonly string[]): boolean {
  for (let i = 0; i < t.length; i++) {
    const a = t[i]!;
    if (a !== VAR && a !== s[i]) return false;
  }
  return true;
}

/** The one position where `a` and `b` differ (neither has `<*>` there... b may), or -1. */
function singleDiff(a: readonly string[], b: readonly string[]): number {
  let p = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (p >= 0) return -1;
      p = i;
    }
  }
  return p;
}

const WORDISH = /[A-Za-z]{2,}/;

/** A family needs a constant word outside the varying position, or every one-word line would merge. */
function hasAnchor(tokens: readonly string[], p: number): boolean {
  for (let i = 0; i < tokens.length; i++) {
    if (i !== p && tokens[i] !== VAR && WORDISH.test(tokens[i]!)) return true;
  }
  return false;
}
