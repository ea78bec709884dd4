import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TemplateMiner, patternId, templateId } from '../../../collector/miner/miner.js';
import { scale } from '../../support/scale.js';

/** Feeds lines and returns, per line, its final template (following merges), as the CLI does. */
function mine(lines: readonly string[], miner = new TemplateMiner()): { ids: string[]; templates: string[]; miner: TemplateMiner } {
  const raw = lines.map((l, i) => miner.add(l, i).id);
  const ids = raw.map((id) => miner.resolve(id) ?? id);
  return { ids, templates: ids.map((id) => miner.template(id) ?? ''), miner };
}

describe('TemplateMiner: clustering', () => {
  it('groups lines that differ only in masked variables, and keeps different events apart', () => {
    const { ids, templates } = mine([
      'Receiving block blk_1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010',
      'PacketResponder 1 for block blk_22 terminating',
      'Receiving block blk_33 src: /10.0.0.3:5001 dest: /10.0.0.4:50010',
      'PacketResponder 2 for block blk_44 terminating',
      'Deleting block blk_55 file /data/blk_55',
    ]);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[1]).toBe(ids[3]);
    expect(new Set(ids).size).toBe(3);
    expect(templates[0]).toBe('Receiving block <*> src: <*>:<*> dest: <*>:<*>');
    expect(templates[1]).toBe('PacketResponder <*> for block <*> terminating');
    expect(templates[4]).toBe('Deleting block <*> file <*>');
  });

  it('keeps short messages with a different word apart (Link error / Link ok), where a similarity ratio would merge them', () => {
    const lines = [];
    for (let i = 0; i < 20; i++) lines.push(i % 2 === 0 ? 'Link error' : 'Link ok');
    const { ids } = mine(lines);
    expect(new Set(ids).size).toBe(2);
  });

  it('keeps a word that takes few values constant (state transitions)', () => {
    const states = [['NEW', 'UNASSIGNED'], ['UNASSIGNED', 'ASSIGNED'], ['ASSIGNED', 'RUNNING'], ['RUNNING', 'SUCCEEDED']];
    const lines = [];
    for (let i = 0; i < 40; i++) {
      const [a, b] = states[i % 4]!;
      lines.push(`attempt_${1000 + i}_m_0 TaskAttempt Transitioned from ${a} to ${b}`);
    }
    const { ids, templates } = mine(lines);
    expect(new Set(ids).size).toBe(4);
    expect(templates[0]).toBe('<*> TaskAttempt Transitioned from NEW to UNASSIGNED');
  });

  it('learns that a word position is variable once it shows enough distinct values, and merges earlier lines too', () => {
    const users = ['admin', 'test', 'oracle', 'guest', 'postgres', 'ubuntu'];
    const lines = users.map((u, i) => `Invalid user ${u} from 10.0.0.${i}`);
    const { ids, templates } = mine(lines);
    expect(new Set(ids).size).toBe(1);
    expect(templates[0]).toBe('Invalid user <*> from <*>');
  });

  it('needs more evidence to make the first word a variable (messages start with constant text)', () => {
    const cmds = ['boot', 'wait', 'halt', 'reset', 'probe'];
    const lines = [];
    for (let i = 0; i < 50; i++) lines.push(`${cmds[i % cmds.length]!} (command ${1900 + i})`);
    const { ids } = mine(lines);
    expect(new Set(ids).size).toBe(cmds.length);
  });

  it('does not merge one-word messages into each other', () => {
    const { ids } = mine(['normal', 'warning', 'running', 'critical', 'blocked', 'active', 'starting', 'closing', 'normal']);
    expect(new Set(ids).size).toBe(8);
    expect(ids[0]).toBe(ids[8]);
  });

  it('handles empty lines as one cluster of their own', () => {
    const { ids, templates } = mine(['', 'a b', '   ', '']);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[0]).toBe(ids[3]);
    expect(templates[0]).toBe('');
  });

  it('reports merges: the merged ids alias to the new one', () => {
    const m = new TemplateMiner({ minVariants: 3 });
    const a = m.add('login by alice ok', 0);
    const b = m.add('login by bob ok', 1);
    const c = m.add('login by carol ok', 2);
    expect(a.id).not.toBe(b.id);
    expect(c.merged).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(c.template).toBe('login by <*> ok');
    expect(m.resolve(a.id)).toBe(c.id);
    expect(m.resolve(b.id)).toBe(c.id);
    expect(m.add('login by dave ok', 3).id).toBe(c.id);
    // alice, bob, and carol's own first cluster
    expect(m.stats().merges).toBe(3);
  });
});

describe('TemplateMiner: stable ids', () => {
  const lines = [
    'Accepted password for root from 10.1.1.1 port 22 ssh2',
    'session opened for user root by (uid=0)',
    ...['a', 'b', 'c', 'd', 'e'].map((u) => `Invalid user ${u}x from 10.0.0.1`),
    'Accepted password for bob from 10.1.1.2 port 23 ssh2',
  ];

  it('ids derive from the template text', () => {
    const m = new TemplateMiner();
    const r = m.add('disk /dev/sda1 is 93% full', 0);
    expect(r.id).toBe(templateId(r.template));
    expect(r.id).toMatch(/^[0-9a-f]{16}$/);
    expect(templateId('a')).not.toBe(templateId('b'));
    expect(templateId('é€')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('an id does not depend on the spacing of the line that made the cluster', () => {
    const tight = 'retry count=3 for job';
    const loose = 'retry count = 7 for job';
    const a = new TemplateMiner();
    const b = new TemplateMiner();
    const a1 = a.add(tight, 0);
    const a2 = a.add(loose, 1);
    const b1 = b.add(loose, 0);
    const b2 = b.add(tight, 1);
    // One cluster in each instance, displayed with its first line's spacing, named alike.
    expect(a2.id).toBe(a1.id);
    expect(b2.id).toBe(b1.id);
    expect(a1.template).toBe('retry count=<*> for job');
    expect(b1.template).toBe('retry count = <*> for job');
    expect(a1.id).toBe(b1.id);
    expect(a1.id).toBe(patternId(['retry', 'count', '=', '<*>', 'for', 'job']));
  });

  it('two instances fed the same lines agree on every id', () => {
    const a = mine(lines).ids;
    const b = mine(lines).ids;
    expect(a).toEqual(b);
  });

  it('a restored snapshot continues with the same ids and aliases', () => {
    const first = new TemplateMiner();
    const half = lines.slice(0, 4);
    const early = half.map((l, i) => first.add(l, i).id);
    const state = JSON.parse(JSON.stringify(first.snapshot())) as ReturnType<TemplateMiner['snapshot']>;
    const restored = TemplateMiner.restore(state);
    const straight = new TemplateMiner();
    lines.forEach((l, i) => straight.add(l, i));
    const rest = lines.slice(4).map((l, i) => restored.add(l, 4 + i).id);
    for (const id of [...early, ...rest]) expect(restored.resolve(id)).toBe(straight.resolve(id));
    expect(restored.clusters().map((c) => c.template).sort()).toEqual(straight.clusters().map((c) => c.template).sort());
    expect(restored.stats().lines).toBe(lines.length);
  });
});

describe('TemplateMiner: bounds', () => {
  it('never holds more than maxTemplates clusters, and counts evictions', () => {
    const m = new TemplateMiner({ maxTemplates: 32 });
    const n = scale(2_000, 50_000);
    for (let i = 0; i < n; i++) {
      // every line a new template: distinct words, distinct lengths
      const words = Array.from({ length: 1 + (i % 7) }, (_, k) => `w${String.fromCharCode(97 + ((i >> k) % 26))}${String.fromCharCode(97 + (k % 26))}`);
      m.add(`evt${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i / 26) % 26 | 0))}${String.fromCharCode(97 + ((i / 676) % 26 | 0))} ${words.join(' ')}`, i);
      expect(m.stats().clusters).toBeLessThanOrEqual(32);
    }
    expect(m.stats().evicted).toBeGreaterThan(0);
    expect(m.stats().evicted + m.stats().clusters).toBeLessThanOrEqual(m.stats().created);
  });

  it('bounds the templates sharing a length and first word, evicting the least recently seen', () => {
    const m = new TemplateMiner({ maxBucket: 8 });
    const word = (i: number): string => `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i / 26) | 0) % 26)}q`;
    const first = m.add(`event ${word(0)} ${word(1000)} done`, 0).id;
    for (let i = 1; i < 100; i++) m.add(`event ${word(i)} ${word(1000 + i * 7)} done`, i);
    expect(m.stats().clusters).toBeLessThanOrEqual(9);
    expect(m.stats().evicted).toBeGreaterThan(0);
    expect(m.resolve(first)).toBeUndefined();
  });

  it('keeps recently seen templates over old ones when evicting', () => {
    const m = new TemplateMiner({ maxTemplates: 16 });
    const hot = m.add('heartbeat ok', 0).id;
    for (let i = 0; i < 200; i++) {
      m.add(`one off event ${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i / 26) | 0))} happened here now`, i + 1);
      m.add('heartbeat ok', i + 1);
    }
    expect(m.resolve(hot)).toBe(hot);
  });

  it('cuts very long lines to maxLineChars', () => {
    const m = new TemplateMiner({ maxLineChars: 100 });
    const a = m.add(`start ${'x'.repeat(10_000)} a`, 0);
    const b = m.add(`start ${'x'.repeat(10_000)} b`, 1);
    expect(a.id).toBe(b.id);
  });
});

describe('TemplateMiner: robustness', () => {
  it('never throws on arbitrary strings, and gives every line an id and a template', () => {
    const m = new TemplateMiner({ maxTemplates: 64, maxShapes: 64, maxAliases: 64 });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-c0-9 :=.\/\[\]-]{0,40}$/)), { maxLength: 20 }), (batch) => {
        for (const line of batch) {
          const r = m.add(line, 0);
          expect(typeof r.id).toBe('string');
          expect(typeof r.template).toBe('string');
          expect(m.resolve(r.id)).toBe(r.id);
        }
      }),
      { numRuns: scale(300, 5_000) },
    );
    expect(m.stats().clusters).toBeLessThanOrEqual(64);
  });
});
