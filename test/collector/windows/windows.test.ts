import { describe, expect, it } from 'vitest';
import { EventTimeWindows } from '../../../collector/windows/windows.js';
import { Watermarks } from '../../../collector/windows/watermark.js';
import { SeriesRegistry } from '../../../collector/series.js';

const reg = new SeriesRegistry();
const cpu = reg.resolve('cpu', { host: 'a' });
const mem = reg.resolve('mem', { host: 'a' });

const view = (ws: { name: string; start: number; window_ms: number; agg: { count: number; sum: number }; final: boolean }[]) =>
  ws.map((w) => [w.name, w.window_ms, w.start, w.agg.count, w.agg.sum, w.final ? 'final' : 'early']);

describe('event-time windows', () => {
  it('aggregates by event time into 1 s, 10 s, 1 min and 1 h tiers, early values first, then finals as the watermark passes', () => {
    const w = new EventTimeWindows({ latenessMs: 1000, idleTimeoutMs: 60_000 });
    // Arrival order differs from event order: the 1 s window is by event time.
    w.add('p0', cpu, 10_500, 2, 0);
    w.add('p0', cpu, 10_100, 3, 0);
    expect(view(w.flush(1, false).windows)).toEqual([
      ['cpu', 1000, 10_000, 2, 5, 'early'],
      ['cpu', 10_000, 10_000, 2, 5, 'early'],
      ['cpu', 60_000, 0, 2, 5, 'early'],
      ['cpu', 3_600_000, 0, 2, 5, 'early'],
    ]);
    // Nothing changed: nothing early again.
    expect(w.flush(2, false).windows).toEqual([]);
    // Watermark 11 999 < end 11 000 + lateness 1 000: still open.
    w.add('p0', cpu, 11_999, 1, 3);
    expect(view(w.flush(4, false).windows).filter((r) => r[5] === 'final')).toEqual([]);
    // Watermark 12 000: the [10 s, 11 s) window closes with its final value.
    w.add('p0', cpu, 12_000, 1, 5);
    const r = w.flush(6, false);
    expect(r.watermark).toBe(12_000);
    expect(view(r.windows).filter((x) => x[5] === 'final')).toEqual([['cpu', 1000, 10_000, 2, 5, 'final']]);
    // Stop closes everything, each tier once.
    const all = view(w.flush(7, true).windows);
    expect(all.filter((x) => x[1] === 10_000)).toEqual([['cpu', 10_000, 10_000, 4, 7, 'final']]);
    expect(w.openWindows).toBe(0);
  });

  it('counts data for a closed window as late, adds it to no tier, and reports it per metric', () => {
    const w = new EventTimeWindows({ tiersMs: [1000, 10_000], latenessMs: 500, idleTimeoutMs: 60_000 });
    w.add('p0', cpu, 5_000, 1, 0);
    w.flush(0, false);
    expect(w.add('p0', mem, 4_600, 1, 1)).toBe('ok'); // its window [4 s, 5 s) is open until wm >= 5.5 s
    w.add('p0', cpu, 9_000, 1, 1);
    w.flush(2, false);
    expect(w.add('p0', mem, 3_999, 7, 3)).toBe('late');
    expect(w.add('p0', mem, 8_400, 1, 3)).toBe('ok');
    expect(w.counters.late).toBe(1);
    const r = w.flush(4, true);
    expect(r.late).toEqual([{ name: 'mem', count: 1 }]);
    // The late 7 is in no tier: the 10 s mem window holds 4.6 s and 8.4 s only.
    expect(view(r.windows).filter((x) => x[0] === 'mem' && x[1] === 10_000)).toEqual([['mem', 10_000, 0, 2, 2, 'final']]);
    expect(w.flush(5, false).late).toEqual([]);
  });

  it('closes windows on the slowest active partition, and an idle partition does not freeze them', () => {
    const w = new EventTimeWindows({ tiersMs: [1000], latenessMs: 0, idleTimeoutMs: 5_000 });
    w.add('fast', cpu, 100_000, 1, 0);
    w.add('slow', cpu, 90_000, 1, 0);
    w.add('fast', cpu, 120_000, 1, 1_000);
    // slow (90 s) holds the watermark: only [90 s, 91 s) may close... not yet (end 91 s > 90 s).
    expect(w.flush(1_000, false).watermark).toBe(90_000);
    expect(view(w.flush(1_100, false).windows)).toEqual([]);
    // slow goes quiet; 5 s of processing time later it is idle and fast alone sets the watermark.
    w.add('fast', cpu, 121_000, 1, 6_500);
    const r = w.flush(6_500, false);
    expect(r.watermark).toBe(121_000);
    expect(view(r.windows).filter((x) => x[5] === 'final').map((x) => x[2])).toEqual([90_000, 100_000, 120_000]);
  });

  it('follows the wall clock minus the idle timeout when every partition is idle, so the last windows close', () => {
    const w = new EventTimeWindows({ tiersMs: [1000], latenessMs: 1000, idleTimeoutMs: 2_000 });
    w.add('p', cpu, 50_000, 1, 50_000);
    expect(w.flush(50_100, false).windows.map((x) => x.final)).toEqual([false]);
    expect(w.flush(53_000, false).windows).toEqual([]); // wm 51 000 < 52 000
    expect(w.flush(54_000, false).windows.map((x) => x.final)).toEqual([true]);
  });

  it('never moves the watermark back', () => {
    const m = new Watermarks({ idleTimeoutMs: 1000, maxPartitions: 10 });
    m.observe('a', 10_000, 0);
    expect(m.advance(0)).toBe(10_000);
    m.observe('b', 5_000, 10); // a new, slower partition
    expect(m.advance(10)).toBe(10_000);
    expect(m.idle(2000).sort()).toEqual(['a', 'b']);
  });

  it('bounds partitions: beyond the limit they share one overflow partition, counted', () => {
    const m = new Watermarks({ idleTimeoutMs: 1000, maxPartitions: 2 });
    for (const p of ['a', 'b', 'c', 'd']) m.observe(p, 1, 0);
    expect(m.partitions).toBe(3);
    expect(m.partitionOverflow).toBe(2);
  });

  it('is bounded: an observation needing more than max_windows is dropped whole and counted', () => {
    const w = new EventTimeWindows({ tiersMs: [1000, 10_000], maxWindows: 3 });
    expect(w.add('p', cpu, 1_000, 1, 0)).toBe('ok'); // 2 windows
    expect(w.add('p', cpu, 2_000, 1, 0)).toBe('ok'); // +1 (same 10 s window)
    expect(w.add('p', cpu, 3_000, 1, 0)).toBe('overflow');
    expect(w.add('p', cpu, 2_500, 1, 0)).toBe('ok'); // no new window needed
    expect(w.counters.overflow).toBe(1);
    expect(w.openWindows).toBe(3);
  });

  it('keeps quantile sketches per window when asked', () => {
    const w = new EventTimeWindows({ tiersMs: [1000], sketch: { relativeAccuracy: 0.01 } });
    for (let i = 1; i <= 100; i++) w.add('p', cpu, 1_000 + i, i, 0);
    const [v] = w.flush(0, true).windows;
    expect(Math.abs(v!.agg.sketch!.quantile(0.99) - 99)).toBeLessThanOrEqual(1);
  });

  it('a window closed by flush is not added to again: the next observation in its span opens a new one', () => {
    // Each series remembers its current windows; a final value must not be followed by more data
    // in the same window object, and every observation lands exactly once.
    const w = new EventTimeWindows({ tiersMs: [1000, 10_000], latenessMs: 0, idleTimeoutMs: 60_000 });
    w.add('p', cpu, 1_100, 1, 0);
    w.add('p', mem, 1_200, 5, 0);
    w.add('p', cpu, 1_300, 2, 0);
    const closed = w.flush(1, true).windows;
    expect(view(closed)).toEqual([
      ['cpu', 1000, 1000, 2, 3, 'final'],
      ['mem', 1000, 1000, 1, 5, 'final'],
      ['cpu', 10_000, 0, 2, 3, 'final'],
      ['mem', 10_000, 0, 1, 5, 'final'],
    ]);
    // The watermark has not passed 1.4 s (stop closes windows, it does not advance it): not late.
    expect(w.add('p', cpu, 1_400, 4, 2)).toBe('ok');
    expect(view(w.flush(3, true).windows)).toEqual([
      ['cpu', 1000, 1000, 1, 4, 'final'],
      ['cpu', 10_000, 0, 1, 4, 'final'],
    ]);
    // The closed windows kept the values they were emitted with.
    expect(view(closed)[0]).toEqual(['cpu', 1000, 1000, 2, 3, 'final']);
  });

  it('rejects tiers that are not multiples of the finest', () => {
    expect(() => new EventTimeWindows({ tiersMs: [1000, 1500] })).toThrow(RangeError);
  });
});
