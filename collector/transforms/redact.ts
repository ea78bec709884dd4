/**
 * `redact`: removes secrets and personal data from log bodies and attributes before anything
 * leaves the collector (put it last in the pipeline, after `parse`, so extracted fields are
 * covered too). Built-in rules (collector/parsers/redact.ts): email, ipv4, ipv6, credit_card
 * (Luhn-checked), bearer, jwt, aws_key, api_key, password (values in key=value and JSON),
 * url_credentials; custom patterns; and whole values of attributes whose key names a secret
 * (`password`, `http.request.header.authorization`, ...).
 *
 * Copy on write: a record with nothing to redact is passed on as the same object. Counts
 * `tidewatch_redactions_total{rule}` per batch. Metric events pass unchanged.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ComponentContext, Transform, TransformFactory } from '../../core/component.js';
import type { AttrValue, Attributes, Event, LogRecord } from '../../core/model.js';
import { TidewatchError } from '../../core/errors.js';
import { BUILTIN_RULES, DEFAULT_SENSITIVE_KEYS, compileRedactor, sensitiveKey, type BuiltinRule, type Redactor } from '../parsers/redact.js';
import { keyMatcher } from '../parsers/fields.js';

export const schema = Type.Object(
  {
    rules: Type.Array(Type.Union(BUILTIN_RULES.map((r) => Type.Literal(r))), {
      default: [...BUILTIN_RULES],
      description: 'Built-in rules to apply: email, ipv4, ipv6, credit_card, bearer, jwt, aws_key, api_key, password, url_credentials.',
    }),
    custom: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: 'Rule name, shown in the replacement and the counter.' }),
          pattern: Type.String({ description: 'A regular expression (checked for catastrophic backtracking); every match is replaced.' }),
          ignore_case: Type.Boolean({ default: false, description: 'Case-insensitive matching.' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Your own patterns (customer ids, internal hostnames).' },
    ),
    replacement: Type.String({ default: '[REDACTED:{rule}]', description: 'What a match becomes; `{rule}` is the rule name (so readers know what was there).' }),
    sensitive_keys: Type.Array(Type.String(), {
      default: [...DEFAULT_SENSITIVE_KEYS],
      description: 'Attributes whose key (last dotted segment, or its `_word` suffix) is one of these have their whole value replaced.',
    }),
    attributes: Type.Boolean({ default: true, description: 'Redact attribute values too, not only the body.' }),
    skip_keys: Type.Array(Type.String(), {
      default: ['tidewatch.*'],
      description: 'Attributes never scanned (exact keys or `prefix.*`): tidewatch’s own line identity holds no personal data.',
    }),
  },
  { additionalProperties: false },
);
export type RedactConfig = Static<typeof schema>;

export class Redact implements Transform {
  private readonly redactor: Redactor;
  private readonly sensitive: readonly string[];
  private readonly doAttributes: boolean;
  private readonly skip: (key: string) => boolean;
  private readonly keyMark: string;
  private reported: Record<string, number> = {};

  constructor(
    config: Partial<RedactConfig>,
    private readonly ctx: ComponentContext,
  ) {
    const replacement = config.replacement ?? '[REDACTED:{rule}]';
    try {
      this.redactor = compileRedactor({
        rules: (config.rules ?? [...BUILTIN_RULES]) as BuiltinRule[],
        custom: (config.custom ?? []).map((c) => ({ name: c.name, pattern: c.pattern, ignoreCase: c.ignore_case ?? false })),
        replacement,
      });
    } catch (err) {
      throw new TidewatchError('TW_CONFIG_SCHEMA', `redact: ${(err as Error).message}`);
    }
    this.sensitive = (config.sensitive_keys ?? DEFAULT_SENSITIVE_KEYS).map((k) => k.toLowerCase());
    this.doAttributes = config.attributes ?? true;
    this.skip = keyMatcher(config.skip_keys ?? ['tidewatch.*']);
    this.keyMark = replacement.replace(/\{rule\}/g, 'sensitive_key');
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  // Attribute keys repeat on every record: the verdict per key is cached (bounded: cleared when
  // full, it is only a cache).
  private readonly keyVerdicts = new Map<string, boolean>();

  private isSensitive(key: string): boolean {
    let v = this.keyVerdicts.get(key);
    if (v === undefined) {
      v = sensitiveKey(key, this.sensitive);
      if (this.keyVerdicts.size >= 4096) this.keyVerdicts.clear();
      this.keyVerdicts.set(key, v);
    }
    return v;
  }

  /** The redacted value, or the same value when nothing changed. */
  private value(v: AttrValue, depth: number): AttrValue {
    if (typeof v === 'string') return this.redactor.redact(v);
    if (v === null || typeof v !== 'object' || depth > 16) return v;
    if (Array.isArray(v)) {
      let copy: AttrValue[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const r = this.value(v[i]!, depth + 1);
        if (r !== v[i]) (copy ??= v.slice())[i] = r;
      }
      return copy ?? v;
    }
    return this.map(v, depth + 1) ?? v;
  }

  /** A redacted copy of a map, or undefined when nothing in it changed. */
  private map(m: Attributes, depth: number): Attributes | undefined {
    let copy: Attributes | undefined;
    for (const k in m) {
      if (this.skip(k)) continue;
      const v = m[k]!;
      let r: AttrValue;
      if (v !== null && v !== '' && this.isSensitive(k)) {
        r = this.keyMark;
        this.redactor.counts['sensitive_key'] = (this.redactor.counts['sensitive_key'] ?? 0) + 1;
      } else r = this.value(v, depth);
      if (r !== v) {
        copy ??= { ...m };
        copy[k] = r;
      }
    }
    return copy;
  }

  redactRecord(e: LogRecord): LogRecord {
    const body = this.value(e.body, 0);
    const attrs = this.doAttributes ? this.map(e.attributes, 0) : undefined;
    if (body === e.body && attrs === undefined) return e;
    return { ...e, body, attributes: attrs ?? e.attributes };
  }

  process(events: Event[], _now: number): Event[] {
    const out = events.map((e) => (e.kind === 'log' ? this.redactRecord(e) : e));
    const counts = this.redactor.counts;
    for (const rule in counts) {
      const d = counts[rule]! - (this.reported[rule] ?? 0);
      if (d > 0) this.ctx.telemetry.add('tidewatch_redactions_total', { component: this.ctx.name, rule }, d);
    }
    this.reported = { ...counts };
    return out;
  }
}

export const redactFactory: TransformFactory<typeof schema> = {
  role: 'transform',
  type: 'redact',
  description: 'Masks secrets and personal data (emails, IPs, card numbers, tokens, keys, passwords, custom patterns) in log bodies and attributes.',
  schema,
  create: (config, ctx) => new Redact(config, ctx),
};
