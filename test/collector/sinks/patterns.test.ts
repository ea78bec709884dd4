/**
 * The patterns sink over the embedded bus: mine_templates' output becomes the pattern catalog
 * (counts per pattern) and a sampled tail, which the dashboard's Patterns page and tail read.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { components } from '../../../collector/components.js';
import { parseConfig } from '../../../core/config/load.js';
import type { LogRecord } from '../../../core/model.js';
import { PipelineRunner } from '../../../core/runner.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { createBus } from '../../../core/transports/bus.js';
import { decodeMessage, type PatternRecord } from '../../../core/wire.js';
import { Harness, line } from '../../support/memory-components.js';
import { templateId } from '../../../collector/miner/miner.js';

describe('patterns sink', () => {
  it('publishes each pattern with its count, and at most N tail lines per pattern per second', async () => {
    const h = new Harness();
    const bus = createBus();
    await bus.start();
    const latest = new Map<string, PatternRecord>();
    const tail: LogRecord[] = [];
    await bus.subscribe({ topics: ['tidewatch.patterns', 'tidewatch.tail'], groupId: 'dash', fromBeginning: true }, async (b) => {
      for (const m of b.messages) {
        const d = decodeMessage(m);
        if (d.type === 'patterns') latest.set(d.record.pattern_id, d.record);
        else if (d.type === 'logs') tail.push(...d.records);
      }
    });
    const dir = await mkdtemp(join(tmpdir(), 'tw-patterns-sink-'));
    const yaml = `
data_dir: ${dir}
sources: { src: { type: test } }
transforms: { mine: { type: mine_templates } }
sinks: { patterns: { type: patterns, tail_lines_per_pattern_per_second: 3, publish_interval_ms: 50 } }
pipelines: { p: { sources: [src], transforms: [mine], sinks: [patterns] } }
`;
    const all = [...components, ...h.components()];
    const telemetry = new MemoryTelemetry();
    const runner = new PipelineRunner({ config: await parseConfig(yaml, 'inline.yaml', { env: {}, components: all }), components: all, agentId: 'a', hostName: 'h', bus, telemetry });
    await runner.start();
    const t = Date.parse('2026-11-25T10:00:00Z');
    try {
      const batch = [
        ...Array.from({ length: 40 }, (_, i) => line(`user ${1000 + i} logged in from 10.0.0.${i}`, { observed_time: t + i })),
        ...Array.from({ length: 7 }, (_, i) => line(`disk /dev/sd${'abcdefg'[i]} is ${80 + i}% full`, { observed_time: t + i, severity_text: 'WARN' })),
      ];
      await h.sourceCtx.get('src')!.emit(batch);
    } finally {
      await runner.stop(); // the final publish carries what the throttle held back
      await bus.stop();
    }
    const byCount = [...latest.values()].sort((a, b) => b.count - a.count);
    expect(byCount.map((p) => [p.count, p.template])).toEqual([
      [40, 'user <*> logged in from <*>'],
      [7, expect.stringMatching(/^disk <\*> is <\*>/)],
    ]);
    expect(byCount[1]!.labels['severity']).toBe('warn');
    expect(byCount[0]!.sample).toBe('user 1000 logged in from 10.0.0.0');
    // All lines fall in one second: 3 sampled per pattern.
    expect(tail).toHaveLength(6);
    expect(tail.every((r) => typeof r.attributes['tidewatch.pattern.id'] === 'string')).toBe(true);
  });
});

describe('patterns sink: merged clusters', () => {
  it('publishes the ids a merge replaced as aliases, and the merged pattern counts every line', async () => {
    const h = new Harness();
    const bus = createBus();
    await bus.start();
    const latest = new Map<string, PatternRecord>();
    await bus.subscribe({ topics: ['tidewatch.patterns'], groupId: 'dash', fromBeginning: true }, async (b) => {
      for (const m of b.messages) {
        const d = decodeMessage(m);
        if (d.type === 'patterns') latest.set(d.record.pattern_id, d.record);
      }
    });
    const dir = await mkdtemp(join(tmpdir(), 'tw-patterns-sink-'));
    const yaml = `
data_dir: ${dir}
sources: { src: { type: test } }
transforms: { mine: { type: mine_templates } }
sinks: { patterns: { type: patterns, publish_interval_ms: 10 } }
pipelines: { p: { sources: [src], transforms: [mine], sinks: [patterns] } }
`;
    const all = [...components, ...h.components()];
    const runner = new PipelineRunner({ config: await parseConfig(yaml, 'inline.yaml', { env: {}, components: all }), components: all, agentId: 'a', hostName: 'h', bus, telemetry: new MemoryTelemetry() });
    await runner.start();
    const t = Date.parse('2026-11-25T10:00:00Z');
    const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
    let written = 0;
    try {
      // One batch per user, with time for a publish in between: the early users' own patterns
      // reach the catalog before the miner merges them.
      for (const [i, u] of users.entries()) {
        const batch = Array.from({ length: 3 + i }, (_, k) => line(`session opened for ${u}`, { observed_time: t + i * 1000 + k }));
        written += batch.length;
        await h.sourceCtx.get('src')!.emit(batch);
        await new Promise((r) => setTimeout(r, 30));
      }
    } finally {
      await runner.stop();
      await bus.stop();
    }
    const live = [...latest.values()].filter((r) => r.alias_of === undefined);
    const aliases = [...latest.values()].filter((r) => r.alias_of !== undefined);
    expect(live.map((r) => [r.template, r.count])).toEqual([['session opened for <*>', written]]);
    // The users seen before the merge had patterns of their own; they now point at the merged one.
    expect(aliases.length).toBeGreaterThanOrEqual(3);
    expect(aliases.every((r) => r.alias_of === live[0]!.pattern_id)).toBe(true);
    expect(aliases.map((r) => r.template)).toContain('session opened for alice');
    expect(live[0]!.pattern_id).toBe(templateId('session opened for <*>'));
    expect(live[0]!.first_seen).toBe(t);
  });
});
