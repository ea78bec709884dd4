/**
 * The example configs that say they show every option of a component at its default do: each
 * option with a default is written out, with that default, unless the table below names it as a
 * deliberate change of the example (or an option left as a comment) and says why. Found stale:
 * configs/agent-file.yaml still showed read_buffer_bytes 65536 and max_inflight_batches 4 after
 * the defaults became 262144 and 16, so an operator copying it slowed the agent down unasked.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { allComponents } from '../../cli/commands/validate.js';

interface Claim {
  file: string;
  /** Components (`sources.<name>`, ...) whose every option the file says it shows at its default. */
  at: string[];
  /** `<component>.<option path>` shown otherwise on purpose, and why. */
  except?: Record<string, string>;
}

const CLAIMS: Claim[] = [
  { file: 'agent-file.yaml', at: ['sources.app'] },
  { file: 'agent-kafka.yaml', at: ['sinks.k'], except: { 'sinks.k.buffer.type': 'the example ships durably (its comment names memory as the default)' } },
  {
    file: 'agent-otlp.yaml',
    at: ['sources.otel', 'sources.scrape', 'sources.host', 'sources.self', 'sources.heartbeat'],
    except: { 'sources.host.exclude_fs_types': 'a long list of pseudo file systems, shown as a comment' },
  },
  { file: 'collector-kafka.yaml', at: ['sources.k'] },
  {
    file: 'collector-rules.yaml',
    at: ['transforms.windows', 'transforms.rules', 'sinks.pager'],
    except: {
      'transforms.windows.metrics': 'the example aggregates metric points for its rules',
      'transforms.rules.rules': 'one rule of each kind',
      'transforms.rules.notify': 'an example of grouping',
      'transforms.rules.inhibit_rules': 'an example',
      'transforms.rules.silences': 'an example',
    },
  },
];

interface SchemaNode {
  default?: unknown;
  type?: string;
  properties?: Record<string, SchemaNode>;
}

/** Options with a default that `value` leaves out or sets otherwise: [path, what differs]. */
function differences(value: Record<string, unknown>, schema: SchemaNode, prefix: string): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${key}`;
    const v = value[key];
    if (v === undefined) {
      if (node.default !== undefined) out.push([path, `missing (default ${JSON.stringify(node.default)})`]);
      continue;
    }
    if (node.default !== undefined && JSON.stringify(v) !== JSON.stringify(node.default)) out.push([path, `${JSON.stringify(v)}, default ${JSON.stringify(node.default)}`]);
    if (node.type === 'object' && node.properties !== undefined && typeof v === 'object' && v !== null) out.push(...differences(v as Record<string, unknown>, node, `${path}.`));
  }
  return out;
}

const ROLE: Record<string, string> = { sources: 'source', transforms: 'transform', sinks: 'sink' };

describe('example configs shown at their defaults', () => {
  it.each(CLAIMS)('$file', async ({ file, at, except = {} }) => {
    const doc = parseYaml(readFileSync(new URL(`../../configs/${file}`, import.meta.url), 'utf8')) as Record<string, Record<string, Record<string, unknown>>>;
    const all: [string, string][] = [];
    for (const where of at) {
      const [section, name] = where.split('.') as [string, string];
      const component = doc[section]?.[name];
      expect(component, `${file}: ${where}`).toBeDefined();
      const entry = allComponents().find((c) => c.role === ROLE[section] && c.type === component!['type']);
      expect(entry, `${file}: ${where} type`).toBeDefined();
      all.push(...differences(component!, (await entry!.load()).schema as SchemaNode, `${where}.`));
    }
    expect(all.filter(([path]) => !(path in except)).map(([path, what]) => `${path}: ${what}`)).toEqual([]);
    // An exception that no longer differs would hide the next stale value of that option.
    const unused = Object.keys(except).filter((path) => !all.some(([p]) => p === path));
    expect(unused).toEqual([]);
  });
});
