import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { MineTemplates, PatternAttrs, mineTemplatesFactory, schema } from '../../../collector/transforms/mine-templates.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { Event, LogRecord } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

function ctx(telemetry = new MemoryTelemetry()): ComponentContext {
  return { name: 'mine', dataDir: '/nonexistent', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };
}

function log(body: LogRecord['body']): LogRecord {
  return { kind: 'log', observed_time: 1000, severity_number: 0, severity_text: '', body, attributes: { 'log.file.path': '/var/log/a.log' }, resource: {} };
}

describe('mine_templates', () => {
  it('tags string bodies with pattern id and template, and leaves the input records unchanged', () => {
    const t = new MineTemplates({}, ctx());
    const input = [log('GET /cart 200 in 12ms'), log('GET /cart 200 in 7ms'), log('disk full on /dev/sda1')];
    const out = t.process(input, 0) as LogRecord[];
    expect(out[0]!.attributes[PatternAttrs.template]).toBe('GET <*> <*> in <*>');
    expect(out[0]!.attributes[PatternAttrs.id]).toBe(out[1]!.attributes[PatternAttrs.id]);
    expect(out[2]!.attributes[PatternAttrs.id]).not.toBe(out[0]!.attributes[PatternAttrs.id]);
    expect(out[0]!.attributes['log.file.path']).toBe('/var/log/a.log');
    expect(input[0]!.attributes[PatternAttrs.id]).toBeUndefined();
  });

  it('mines the message of a whole raw line, skipping its header', () => {
    const t = new MineTemplates({}, ctx());
    const [a, b] = t.process([
      log('2026-11-25T10:00:00.123Z INFO app.api: user 17 logged in'),
      log('2026-11-25T10:00:01.456Z INFO app.api: user 42 logged in'),
    ], 0) as LogRecord[];
    expect(a!.attributes[PatternAttrs.template]).toBe('user <*> logged in');
    expect(b!.attributes[PatternAttrs.id]).toBe(a!.attributes[PatternAttrs.id]);
  });

  it('passes metrics and non-string bodies through, counted', () => {
    const tel = new MemoryTelemetry();
    const t = new MineTemplates({}, ctx(tel));
    const metric: Event = { kind: 'metric', type: 'gauge', name: 'x', time: 0, attributes: {}, resource: {}, value: 1 };
    const obj = log({ msg: 'structured' });
    const out = t.process([metric, obj, log('hello world')], 0);
    expect(out[0]).toBe(metric);
    expect(out[1]).toBe(obj);
    expect(tel.value('tidewatch_mine_templates_records_total', { component: 'mine', result: 'not_a_string' })).toBe(1);
    expect(tel.value('tidewatch_mine_templates_records_total', { component: 'mine', result: 'mined' })).toBe(1);
    expect(tel.value('tidewatch_mine_templates_templates', { component: 'mine' })).toBe(1);
  });

  it('counts evictions when max_templates is reached', () => {
    const tel = new MemoryTelemetry();
    const t = new MineTemplates({ max_templates: 16 }, ctx(tel));
    const names = Array.from({ length: 64 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i / 26) | 0))}`);
    t.process(names.map((n) => log(`event ${n} ${n}x happened`)), 0);
    expect(tel.value('tidewatch_mine_templates_evicted_total', { component: 'mine' })).toBeGreaterThan(0);
    expect(tel.value('tidewatch_mine_templates_templates', { component: 'mine' })).toBeLessThanOrEqual(16);
  });

  it('has a schema whose defaults make a valid config', () => {
    const cfg = Value.Default(schema, {}) as Record<string, unknown>;
    expect(Value.Check(schema, cfg)).toBe(true);
    expect(cfg['max_templates']).toBeGreaterThan(0);
    expect(cfg['strip_header']).toBe(true);
    expect(mineTemplatesFactory.type).toBe('mine_templates');
    expect(mineTemplatesFactory.create(cfg as never, ctx())).toBeInstanceOf(MineTemplates);
  });
});

describe('mine_templates log.patterns metrics', () => {
  type Point = Extract<Event, { kind: 'metric'; type: 'sum' }>;
  const sev = (body: string, severity_number: number): LogRecord => ({ ...log(body), severity_number });
  // Lines of different lengths never share a template, so each is its own pattern.
  const distinct = (n: number): string[] => Array.from({ length: n }, (_, i) => Array.from({ length: i + 1 }, () => 'word').join(' '));
  const points = (events: Event[]): Point[] => events.filter((e): e is Point => e.kind === 'metric' && e.type === 'sum' && e.name === 'log.patterns');

  it('counts records per pattern per second and emits them once the second is over', () => {
    const t = new MineTemplates({}, ctx());
    const tagged = t.process([log('GET /cart 200 in 12ms'), log('GET /cart 200 in 7ms'), log('disk full on /dev/sda1')], 5_200) as LogRecord[];
    t.process([log('GET /a 500 in 3ms')], 5_900);
    const get = tagged[0]!.attributes[PatternAttrs.id];
    const disk = tagged[2]!.attributes[PatternAttrs.id];
    expect(t.flush(5_999, false)).toEqual([]);
    t.process([log('GET /b 200 in 1ms')], 6_100);
    const first = points(t.flush(6_000, false));
    expect(first).toHaveLength(2);
    const byId = new Map(first.map((p) => [p.attributes[PatternAttrs.id], p]));
    expect(byId.get(get)!.value).toBe(3);
    expect(byId.get(disk)!.value).toBe(1);
    expect(byId.get(get)).toMatchObject({ temporality: 'delta', monotonic: true, start_time: 5_000, time: 6_000, attributes: { [PatternAttrs.id]: get } });
    expect(byId.get(get)!.attributes['severity']).toBeUndefined();
    // Emitted once: the next flush has only the next second, and the final flush takes the open one.
    expect(t.flush(6_500, false)).toEqual([]);
    const last = points(t.flush(6_500, true));
    expect(last.map((p) => [p.start_time, p.value])).toEqual([[6_000, 1]]);
    expect(t.flush(9_000, true)).toEqual([]);
  });

  it('splits a pattern by severity when records carry one', () => {
    const t = new MineTemplates({}, ctx());
    t.process([sev('disk full on /dev/sda1', 17), sev('disk full on /dev/sdb1', 17), sev('disk full on /dev/sdc1', 13)], 0);
    const ps = points(t.flush(1_000, false));
    expect(ps.map((p) => [p.attributes['severity'], p.value]).sort()).toEqual([['error', 2], ['warn', 1]]);
  });

  it('sends patterns beyond max_pattern_series to the __overflow__ series, counted', () => {
    const tel = new MemoryTelemetry();
    const t = new MineTemplates({ max_pattern_series: 3, strip_header: false }, ctx(tel));
    const lines = distinct(6);
    t.process([...lines, lines[0]!, lines[5]!].map((b) => log(b)), 100);
    const ps = points(t.flush(1_000, false));
    expect(ps).toHaveLength(4);
    const overflow = ps.find((p) => p.attributes[PatternAttrs.id] === '__overflow__');
    expect(overflow!.value).toBe(4);
    expect(ps.reduce((n, p) => n + p.value, 0)).toBe(8);
    expect(tel.value('tidewatch_mine_templates_series_overflow_total', { component: 'mine' })).toBe(4);
    // The limit is per second: the next second has room again.
    t.process(lines.slice(3).map((b) => log(b)), 1_100);
    const next = points(t.flush(2_000, false));
    expect(next.map((p) => p.attributes[PatternAttrs.id])).not.toContain('__overflow__');
    expect(next).toHaveLength(3);
  });

  it('emits nothing with emit_metrics: false, and still tags records', () => {
    const t = new MineTemplates({ emit_metrics: false }, ctx());
    const [r] = t.process([log('disk full on /dev/sda1')], 0) as LogRecord[];
    expect(r!.attributes[PatternAttrs.id]).toBeDefined();
    expect(t.flush(5_000, true)).toEqual([]);
  });

  it('defaults to emitting, with at most 1000 series', () => {
    const cfg = Value.Default(schema, {}) as Record<string, unknown>;
    expect(cfg['emit_metrics']).toBe(true);
    expect(cfg['max_pattern_series']).toBe(1000);
  });
});
