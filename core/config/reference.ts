/**
 * Renders the configuration reference (docs/configuration.md) from the schemas themselves: the
 * top-level schema and every component schema of every program's component list, with each
 * option's type, default and description. scripts/config-reference.mjs writes the file;
 * test/core/config/reference.test.ts fails when the file and the schemas drift apart.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import type { ComponentEntry, ComponentFactory, Role } from '../component.js';
import { TopLevelSchema } from './schema.js';

export interface Program {
  /** `agent`, `collector`. */
  name: string;
  components: readonly ComponentEntry[];
}

const ROLES: readonly { role: Role; section: string; title: string }[] = [
  { role: 'source', section: 'sources', title: 'Sources' },
  { role: 'transform', section: 'transforms', title: 'Transforms' },
  { role: 'sink', section: 'sinks', title: 'Sinks' },
];

export async function renderConfigReference(programs: readonly Program[]): Promise<string> {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the schemas by scripts/config-reference.mjs (`npm run docs:config`); do not edit by hand. -->',
    '',
    'One YAML format serves every role (`tidewatch agent`, `collector`, `up`). Named `sources`,',
    '`transforms` and `sinks` map a name to `{ type, ...options }`; `pipelines` wire them by name.',
    'Unknown keys are errors. Values may use `${VAR}` (an unset variable is an error),',
    '`${VAR:-default}`, and `$${` for a literal `${`; inside `{ }` or `[ ]` quote them: `"${VAR}"`.',
    'An expanded value becomes a number or boolean where the option is one.',
    '`npx tidewatch validate --config FILE` checks a file without running it. Examples: [configs/](../configs/).',
    '',
    '## Top level',
    '',
    ...table(rows(TopLevelSchema, '')),
    '',
  ];
  for (const { role, section, title } of ROLES) {
    const byType = new Map<string, { entry: ComponentEntry; programs: string[] }>();
    for (const p of programs) {
      for (const c of p.components) {
        if (c.role !== role) continue;
        const seen = byType.get(c.type);
        if (seen === undefined) byType.set(c.type, { entry: c, programs: [p.name] });
        else if (!seen.programs.includes(p.name)) seen.programs.push(p.name);
      }
    }
    out.push(`## ${title}`, '');
    if (byType.size === 0) {
      out.push(`No ${role} types yet.`, '');
      continue;
    }
    for (const type of [...byType.keys()].sort()) {
      const { entry, programs: shippedBy } = byType.get(type)!;
      const factory: ComponentFactory = await entry.load();
      out.push(`### \`${type}\``, '', `${oneLine(factory.description)}`, '', `In: ${shippedBy.join(', ')}. Use as \`${section}: { <name>: { type: ${type}, ... } }\`.`, '');
      const r = rows(factory.schema, '');
      out.push(...(r.length === 0 ? ['No options.'] : table(r)), '');
    }
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

interface Row {
  key: string;
  type: string;
  dflt: string;
  description: string;
}

function table(r: readonly Row[]): string[] {
  return ['| key | type | default | description |', '|---|---|---|---|', ...r.map((x) => `| \`${x.key}\` | ${cell(x.type)} | ${cell(x.dflt)} | ${cell(x.description)} |`)];
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function oneLine(s: string | undefined): string {
  return (s ?? '').replace(/\s*\n\s*/g, ' ').trim();
}

/** One row per option of an object schema, nested objects flattened with dotted keys. */
function rows(schema: TSchema, prefix: string): Row[] {
  if (schema[Kind] !== 'Object') return [];
  const props = (schema['properties'] ?? {}) as Record<string, TSchema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  const out: Row[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const key = `${prefix}${name}`;
    const dflt = prop['default'] !== undefined ? `\`${JSON.stringify(prop['default'])}\`` : required.has(name) ? 'required' : '(none)';
    out.push({ key, type: typeName(prop), dflt, description: oneLine(prop['description'] as string | undefined) });
    out.push(...children(prop, key));
  }
  return out;
}

function children(prop: TSchema, key: string): Row[] {
  const kind = prop[Kind];
  if (kind === 'Object') return rows(prop, `${key}.`);
  if (kind === 'Array' && (prop['items'] as TSchema | undefined)?.[Kind] === 'Object') return rows(prop['items'] as TSchema, `${key}[].`);
  if (kind === 'Record') {
    const value = Object.values((prop['patternProperties'] ?? {}) as Record<string, TSchema>)[0];
    if (value !== undefined && value[Kind] === 'Object') return rows(value, `${key}.<name>.`);
  }
  return [];
}

function typeName(s: TSchema): string {
  switch (s[Kind]) {
    case 'String':
      return s['pattern'] !== undefined && s['pattern'] !== '^(.*)$' ? `string matching \`${s['pattern'] as string}\`` : 'string';
    case 'Number':
    case 'Integer':
      return `${s[Kind] === 'Integer' ? 'integer' : 'number'}${bounds(s)}`;
    case 'Boolean':
      return 'boolean';
    case 'Literal':
      return `\`${JSON.stringify(s['const'])}\``;
    case 'Union': {
      const parts = (s['anyOf'] as TSchema[]).map(typeName);
      return (s['anyOf'] as TSchema[]).every((x) => x[Kind] === 'Literal') ? `one of ${parts.join(', ')}` : parts.join(' or ');
    }
    case 'Array':
      return `list of ${typeName(s['items'] as TSchema)}${s['minItems'] !== undefined ? ` (at least ${s['minItems'] as number})` : ''}`;
    case 'Record': {
      const value = Object.values((s['patternProperties'] ?? {}) as Record<string, TSchema>)[0];
      return `map of name to ${value === undefined ? 'any' : value[Kind] === 'Object' ? 'map' : typeName(value)}`;
    }
    case 'Object':
      return 'map';
    case 'Unknown':
    case 'Any':
      return 'any';
    default:
      return String(s[Kind] ?? s['type'] ?? 'any').toLowerCase();
  }
}

function bounds(s: TSchema): string {
  const parts: string[] = [];
  if (s['minimum'] !== undefined) parts.push(`>= ${s['minimum'] as number}`);
  if (s['exclusiveMinimum'] !== undefined) parts.push(`> ${s['exclusiveMinimum'] as number}`);
  if (s['maximum'] !== undefined) parts.push(`<= ${s['maximum'] as number}`);
  if (s['exclusiveMaximum'] !== undefined) parts.push(`< ${s['exclusiveMaximum'] as number}`);
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`;
}
