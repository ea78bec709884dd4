import { describe, expect, it, vi } from 'vitest';
import { TidewatchError } from '../../core/errors.js';
import { PipelineRunner } from '../../core/runner.js';
import { LineBlock } from '../../core/line-block.js';
import { MemoryTelemetry } from '../../core/telemetry.js';
import { Harness, config, line } from '../support/memory-components.js';

function runner(h: Harness, tickMs = 10_000) {
  const telemetry = new MemoryTelemetry();
  const r = new PipelineRunner({
    config: config({
      sources: { a: { type: 'test' }, b: { type: 'test' } },
      transforms: { c: { type: 'count_per_tick' } },
      sinks: { x: { type: 'test' }, y: { type: 'test' } },
      pipelines: { p1: { sources: ['a'], transforms: ['c'], sinks: ['x'] }, p2: { sources: ['a', 'b'], transforms: [], sinks: ['y'] } },
    }),
    components: h.components(),
    agentId: 'agent-1',
    hostName: 'host-1',
    telemetry,
    tickMs,
  });
  return { r, telemetry };
}

describe('PipelineRunner', () => {
  it('starts downstream first and stops upstream first', async () => {
    const h = new Harness();
    const { r } = runner(h);
    await r.start();
    await r.stop();
    const firstSourceStart = h.order.findIndex((s) => s.startsWith('start source'));
    const lastSinkStart = h.order.findLastIndex((s) => s.startsWith('start sink'));
    expect(lastSinkStart).toBeLessThan(firstSourceStart);
    const lastSourceStop = h.order.findLastIndex((s) => s.startsWith('stop source'));
    const firstSinkStop = h.order.findIndex((s) => s.startsWith('stop sink'));
    expect(lastSourceStop).toBeLessThan(firstSinkStop);
    expect(h.order.filter((s) => s === 'stop sink x')).toHaveLength(1);
  });

  it('starts its sinks together: one waiting for its broker does not hold back the others', async () => {
    const h = new Harness();
    const release = new Map<string, () => void>();
    h.sinkStart = (name) => new Promise((r) => release.set(name, r));
    const { r } = runner(h);
    const started = r.start();
    // Both sinks are starting before either has finished; no source starts meanwhile.
    await vi.waitFor(() => expect(release.size).toBe(2));
    expect(h.order).toEqual(['start sink x', 'start sink y']);
    release.get('y')!();
    release.get('x')!();
    await started;
    expect(h.order.slice(0, 4)).toEqual(['start sink x', 'start sink y', 'started sink y', 'started sink x']);
    expect(h.order.filter((s) => s.startsWith('start source'))).toHaveLength(2);
    await r.stop();
  });

  it('fails its start when one sink fails, stopping the others only once their start has settled', async () => {
    const h = new Harness();
    let releaseY: () => void = () => {};
    h.sinkStart = (name) =>
      name === 'x' ? Promise.reject(new TidewatchError('TW_TRANSPORT_UNAVAILABLE', 'no broker')) : new Promise((r) => (releaseY = r));
    const { r } = runner(h);
    const started = r.start().catch((e: unknown) => e);
    await vi.waitFor(() => expect(h.order).toContain('start sink y'));
    await new Promise((r) => setTimeout(r, 20));
    // x has failed, y is still starting: nothing is stopped yet.
    expect(h.order.some((s) => s.startsWith('stop'))).toBe(false);
    releaseY();
    expect(await started).toMatchObject({ code: 'TW_TRANSPORT_UNAVAILABLE' });
    expect(h.order.indexOf('stop sink y')).toBeGreaterThan(h.order.indexOf('started sink y'));
    expect(h.order.filter((s) => s.startsWith('start source'))).toHaveLength(0);
  });

  it('resolves emit only after every sink of every pipeline fed by the source has the batch', async () => {
    const h = new Harness();
    h.sinkDelayMs = 30;
    const { r, telemetry } = runner(h);
    await r.start();
    await h.sourceCtx.get('a')!.emit([line('one'), line('two')]);
    expect(h.written.get('x')?.map((e) => (e.kind === 'log' ? e.body : e.name))).toEqual(['one', 'two']);
    expect(h.written.get('y')).toHaveLength(2);
    await h.sourceCtx.get('b')!.emit([line('three')]);
    expect(h.written.get('x')).toHaveLength(2); // b feeds only p2
    expect(h.written.get('y')).toHaveLength(3);
    expect(telemetry.value('tidewatch_events_received_total', { component: 'a' })).toBe(2);
    expect(telemetry.value('tidewatch_events_sent_total', { component: 'y', pipeline: 'p2' })).toBe(3);
    await r.stop();
  });

  it('rejects the emit when a sink fails, so the source keeps its checkpoint, and counts the error', async () => {
    const h = new Harness();
    h.failSink = (name) => (name === 'y' ? new TidewatchError('TW_SINK_WRITE', 'disk full') : undefined);
    const { r, telemetry } = runner(h);
    await r.start();
    await expect(h.sourceCtx.get('a')!.emit([line('x')])).rejects.toMatchObject({ code: 'TW_SINK_WRITE' });
    expect(telemetry.value('tidewatch_errors_total', { component: 'y', code: 'TW_SINK_WRITE' })).toBe(1);
    await r.stop();
  });

  it('flushes stateful transforms on the tick and once more, final, at stop', async () => {
    const h = new Harness();
    const { r } = runner(h, 20);
    await r.start();
    await h.sourceCtx.get('a')!.emit([line('1'), line('2'), line('3')]);
    await new Promise((res) => setTimeout(res, 80));
    const metrics = () => (h.written.get('x') ?? []).filter((e) => e.kind === 'metric');
    expect(metrics().map((m) => (m.kind === 'metric' && m.type === 'sum' ? m.value : -1))).toEqual([3]);
    await h.sourceCtx.get('a')!.emit([line('4')]);
    await r.stop();
    const last = metrics().at(-1);
    expect(last?.kind === 'metric' && last.type === 'sum' && last.value).toBe(1);
    expect(last?.attributes['final']).toBe(true);
  });

  it('refuses emits after stop and stop is idempotent and safe without start', async () => {
    const h = new Harness();
    const { r } = runner(h);
    await r.stop();
    await r.stop();
    const { r: r2 } = runner(h);
    await r2.start();
    const ctx = h.sourceCtx.get('a')!;
    await r2.stop();
    await expect(ctx.emit([line('late')])).rejects.toMatchObject({ code: 'TW_STOPPED' });
  });

  it('fails fast on a component type the program does not ship', async () => {
    const h = new Harness();
    const r = new PipelineRunner({
      config: config({ sources: { a: { type: 'nope' } }, sinks: { x: { type: 'test' } }, pipelines: { p: { sources: ['a'], transforms: [], sinks: ['x'] } } }),
      components: h.components(),
      agentId: 'a',
      hostName: 'h',
    });
    await expect(r.start()).rejects.toMatchObject({ code: 'TW_COMPONENT_UNKNOWN' });
  });

  it('hands a file\'s lines to a sink as they are only where nothing needs records, and as the same records everywhere else', async () => {
    const h = new Harness();
    const telemetry = new MemoryTelemetry();
    const r = new PipelineRunner({
      config: config({
        sources: { a: { type: 'test' } },
        transforms: { c: { type: 'count_per_tick' } },
        sinks: { x: { type: 'test' }, z: { type: 'lines' }, w: { type: 'lines' } },
        pipelines: {
          direct: { sources: ['a'], transforms: [], sinks: ['z'] },
          transformed: { sources: ['a'], transforms: ['c'], sinks: ['w'] },
          mixed: { sources: ['a'], transforms: [], sinks: ['x', 'w'] },
        },
      }),
      components: h.components(),
      agentId: 'agent-1',
      hostName: 'host-1',
      telemetry,
      tickMs: 10_000,
    });
    await r.start();
    const block = new LineBlock({ 'host.name': 'host-1' }, '/var/log/app.log', 's1', 0, 1000);
    const data = Buffer.from('first\nsecond\n');
    block.addBytes(data, 0, 5, 0, 1000);
    block.addBytes(data, 6, 12, 6, 1000);
    await h.sourceCtx.get('a')!.emitLines!(block);
    expect(h.blocks.get('z')).toEqual([block]);
    expect(h.written.get('z')).toBeUndefined();
    // A transform, or a sink without writeLines beside it: records, made once for all of them.
    expect(h.blocks.get('w')).toBeUndefined();
    const w = h.written.get('w')!;
    expect(w.map((e) => (e.kind === 'log' ? [e.body, e.attributes['tidewatch.offset']] : e.name))).toEqual([
      ['first', 0],
      ['second', 6],
      ['first', 0],
      ['second', 6],
    ]);
    expect(h.written.get('x')).toEqual(w.slice(2));
    expect(w[0]).toBe(w[2]);
    expect(telemetry.value('tidewatch_events_received_total', { component: 'a' })).toBe(2);
    expect(telemetry.value('tidewatch_events_sent_total', { component: 'z', pipeline: 'direct' })).toBe(2);
    expect(telemetry.value('tidewatch_events_sent_total', { component: 'w', pipeline: 'transformed' })).toBe(2);
    expect(telemetry.value('tidewatch_events_sent_total', { component: 'x', pipeline: 'mixed' })).toBe(2);
    await r.stop();
  });
});
