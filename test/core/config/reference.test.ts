import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { PROGRAMS } from '../../../cli/commands/validate.js';
import type { SinkFactory } from '../../../core/component.js';
import { renderConfigReference } from '../../../core/config/reference.js';

describe('configuration reference', () => {
  it('docs/configuration.md is what the schemas generate (run `npm run docs:config` after changing a schema)', async () => {
    const onDisk = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const generated = await renderConfigReference(PROGRAMS);
    expect(onDisk, 'docs/configuration.md is out of date: run `npm run docs:config`').toBe(generated);
  });

  it('lists every component type of every program', async () => {
    const text = await renderConfigReference(PROGRAMS);
    for (const p of PROGRAMS) for (const c of p.components) expect(text).toContain(`Use as \`${c.role}s: { <name>: { type: ${c.type}, ... } }\``);
  });

  it('renders each option with its type, default and description, nested options flattened', async () => {
    const schema = Type.Object({
      brokers: Type.Array(Type.String(), { minItems: 1, description: 'Bootstrap | brokers.' }),
      acks: Type.Union([Type.Literal('all'), Type.Literal('leader')], { default: 'all', description: 'Ack policy.' }),
      batch: Type.Object({ max_bytes: Type.Integer({ minimum: 1, default: 1024, description: 'Largest batch.' }) }, { default: {} }),
      headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra headers.' })),
      rules: Type.Array(Type.Object({ match: Type.String({ description: 'Regex.' }) }), { default: [] }),
    });
    const sink: SinkFactory<typeof schema> = {
      type: 'demo',
      role: 'sink',
      description: 'A demo sink.',
      schema,
      create: () => ({ start: async () => {}, stop: async () => {}, write: async () => {} }),
    };
    const text = await renderConfigReference([{ name: 'agent', components: [{ role: 'sink', type: 'demo', load: async () => sink }] }]);
    expect(text).toContain('### `demo`\n\nA demo sink.\n\nIn: agent.');
    expect(text).toContain('| `brokers` | list of string (at least 1) | required | Bootstrap \\| brokers. |');
    expect(text).toContain('| `acks` | one of `"all"`, `"leader"` | `"all"` | Ack policy. |');
    expect(text).toContain('| `batch.max_bytes` | integer, >= 1 | `1024` | Largest batch. |');
    expect(text).toContain('| `headers` | map of name to string | (none) | Extra headers. |');
    expect(text).toContain('| `rules[].match` | string | required | Regex. |');
    expect(text).toContain('## Sources\n\nNo source types yet.');
  });
});
