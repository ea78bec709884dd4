import { describe, expect, it } from 'vitest';
import { IngestCore, seriesId, streamKey } from '../../../collector/ingest/core.js';
import { PartialMerger } from '../../../collector/ingest/merge.js';
import { narrowStage } from '../../../collector/sources/kafka.js';
import { encodeEvents } from '../../../core/codec.js';
import type { InMessage } from '../../../core/transport.js';
import type { RollupPartial, StreamState } from '../../../core/wire.js';
import { lines } from '../kafka-support.js';

let offset = 0;
function msgs(events: Parameters<typeof encodeEvents>[0]): InMessage[] {
  return encodeEvents(events).map((m) => ({ topic: 't', partition: 0, offset: String(offset++), key: null, value: m.value, headers: m.headers ?? {}, timestamp: 0 }));
}

function core(state = new Map<string, StreamState>(), instance = 'i1'): IngestCore {
  return new IngestCore({ sourceInstance: instance, latenessMs: 1000, maxWindows: 1000, maxStreams: 100, state });
}

const total = (ps: RollupPartial[]): number => {
  const m = new PartialMerger();
  for (const p of ps) m.add(p);
  return [...m.windows()].reduce((n, w) => n + w.count, 0);
};

describe('ingest core', () => {
  it('drops lines at or below the counted offset of their stream generation, and counts them', () => {
    const c = core();
    const f1 = c.filter(msgs(lines('a', 's', 0, 0, 10, 5000)));
    expect(f1.events).toHaveLength(10);
    f1.apply();
    // A resend of lines 5..14: 5..9 were counted already.
    const f2 = c.filter(msgs(lines('a', 's', 0, 50, 10, 5000)));
    expect(f2.events).toHaveLength(5);
    f2.apply();
    expect(c.counters.replayed).toBe(5);
    // A new generation (truncation) whose offsets start again at 0 is not a replay.
    const f3 = c.filter(msgs(lines('a', 's', 1, 0, 3, 5000)));
    expect(f3.events).toHaveLength(3);
    f3.apply();
    const snap = c.snapshot()!;
    expect(total(snap.partials)).toBe(18);
    expect(snap.states.map((s) => [s.generation, s.offset]).sort()).toEqual([
      [0, 140],
      [1, 20],
    ]);
    expect(snap.nextOffset).toBe(String(offset));
  });

  it('nothing is counted until apply (a batch whose emit failed comes again)', () => {
    const c = core();
    c.filter(msgs(lines('a', 's', 0, 0, 10, 5000)));
    const again = c.filter(msgs(lines('a', 's', 0, 0, 10, 5000)));
    expect(again.events).toHaveLength(10);
    again.apply();
    expect(c.counters.replayed).toBe(0);
    expect(total(c.snapshot()!.partials)).toBe(10);
  });

  it('restored state from a previous owner makes its counted lines replays; partials of two owners add up exactly', () => {
    const a = core(new Map(), 'owner-a');
    const fa = a.filter(msgs(lines('a', 's', 0, 0, 20, 5000)));
    fa.apply();
    const sa = a.snapshot()!;
    const restored = new Map(sa.states.map((s) => [streamKey(s.agent_id, s.stream_id, s.generation), s]));
    // The new owner reads again from an older offset: 10 of the lines are replays.
    const b = core(restored, 'owner-b');
    const fb = b.filter(msgs(lines('a', 's', 0, 100, 30, 5000)));
    fb.apply();
    expect(b.counters.replayed).toBe(10);
    expect(total([...sa.partials, ...b.snapshot()!.partials])).toBe(40);
  });

  it('later partials of one instance replace earlier ones; windows close on the partition event time', () => {
    const c = core();
    c.filter(msgs(lines('a', 's', 0, 0, 4, 1500))).apply();
    const early = c.snapshot()!.partials;
    expect(early.every((p) => !p.final)).toBe(true);
    c.filter(msgs(lines('a', 's', 0, 40, 2, 1600))).apply();
    // Event time moves 3 s on: the 1 s window [1000, 2000) is final now.
    c.filter(msgs(lines('a', 's', 0, 60, 1, 4200))).apply();
    const later = c.snapshot()!.partials;
    const w1 = later.find((p) => p.window_start === 1000)!;
    expect(w1).toMatchObject({ count: 6, final: true });
    expect(total([...early, ...later])).toBe(7);
    expect(w1.series_id).toBe(seriesId('log.records', w1.labels));
  });

  it('no snapshot when nothing new came in', () => {
    const c = core();
    expect(c.snapshot()).toBeUndefined();
    c.filter(msgs(lines('a', 's', 0, 0, 1, 5000))).apply();
    const s = c.snapshot()!;
    c.committed(s.nextOffset);
    expect(c.snapshot()).toBeUndefined();
  });
});

describe('collector --stage', () => {
  it('narrows each kafka source to the stage asked for', () => {
    expect(narrowStage('all', 'all')).toBe('all');
    expect(narrowStage('all', 'ingest')).toBe('ingest');
    expect(narrowStage('rules', 'rules')).toBe('rules');
    expect(narrowStage('rules', 'ingest')).toBe('off');
    expect(narrowStage('ingest', 'all')).toBe('ingest');
  });
});
