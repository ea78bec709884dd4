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
