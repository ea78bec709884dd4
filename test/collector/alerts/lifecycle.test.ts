import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, newInstance, step, type LifecyclePolicy, type Observation } from '../../../collector/alerts/lifecycle.js';

const P = (o: Partial<LifecyclePolicy> = {}): LifecyclePolicy => ({ ...DEFAULT_POLICY, ...o });

/** Steps a fresh instance through (time, observation) pairs; returns the state after each. */
function run(p: LifecyclePolicy, seq: [number, Observation][]): string[] {
  const a = newInstance('r{}', 'r', {});
  return seq.map(([t, o]) => {
    step(a, o, t, p);
    return a.state;
  });
}

describe('alert lifecycle (fake clock)', () => {
  it('inactive → firing at once without `for`, firing → resolved when the condition clears, resolved → firing again', () => {
    expect(run(P(), [[0, 'false'], [1, 'true'], [2, 'true'], [3, 'false'], [4, 'true']])).toEqual(['inactive', 'firing', 'firing', 'resolved', 'firing']);
  });

  it('inactive → pending → firing after `for`; pending → inactive when it clears in time', () => {
    const p = P({ for_ms: 10 });
    expect(run(p, [[0, 'true'], [5, 'true'], [10, 'true']])).toEqual(['pending', 'pending', 'firing']);
    expect(run(p, [[0, 'true'], [5, 'false'], [6, 'true'], [15, 'true'], [16, 'true']])).toEqual(['pending', 'inactive', 'pending', 'pending', 'firing']);
  });

  it('resolved → pending when `for` applies again', () => {
    expect(run(P({ for_ms: 10 }), [[0, 'true'], [10, 'true'], [11, 'false'], [20, 'true'], [30, 'true']])).toEqual(['pending', 'firing', 'resolved', 'pending', 'firing']);
  });

  it('keep_firing_for holds a firing alert through a brief dip', () => {
    expect(run(P({ keep_firing_for_ms: 10 }), [[0, 'true'], [5, 'false'], [9, 'false'], [10, 'false']])).toEqual(['firing', 'firing', 'firing', 'resolved']);
  });

  it('no data: a state of its own by default, or alerting, or ok, as the rule says; data back → inactive → re-judged', () => {
    expect(run(P(), [[0, 'true'], [1, 'nodata'], [2, 'false'], [3, 'nodata'], [4, 'true']])).toEqual(['firing', 'nodata', 'inactive', 'nodata', 'firing']);
    expect(run(P({ no_data_state: 'alerting' }), [[0, 'nodata'], [1, 'nodata']])).toEqual(['firing', 'firing']);
    expect(run(P({ no_data_state: 'ok' }), [[0, 'true'], [1, 'nodata']])).toEqual(['firing', 'resolved']);
  });

  it('error: a state of its own by default, or alerting, or ok; pending → error too', () => {
    expect(run(P({ for_ms: 10 }), [[0, 'true'], [1, 'error'], [2, 'false']])).toEqual(['pending', 'error', 'inactive']);
    expect(run(P(), [[0, 'error'], [1, 'true']])).toEqual(['error', 'firing']);
    expect(run(P({ error_state: 'alerting' }), [[0, 'error']])).toEqual(['firing']);
    expect(run(P({ error_state: 'ok' }), [[0, 'true'], [1, 'error']])).toEqual(['firing', 'resolved']);
  });

  it('every state moves to no data and to error, and back out when data returns', () => {
    for (const bad of ['nodata', 'error'] as const) {
      expect(run(P({ for_ms: 10 }), [[0, 'true'], [1, bad]])).toEqual(['pending', bad]); // pending →
      expect(run(P(), [[0, 'true'], [1, bad]])).toEqual(['firing', bad]); // firing →
      expect(run(P(), [[0, 'true'], [1, 'false'], [2, bad]])).toEqual(['firing', 'resolved', bad]); // resolved →
      expect(run(P(), [[0, bad], [1, bad], [2, 'false']])).toEqual([bad, bad, 'inactive']); // inactive →, stays, → inactive
    }
    expect(run(P(), [[0, 'nodata'], [1, 'error'], [2, 'nodata']])).toEqual(['nodata', 'error', 'nodata']);
  });

  it('flap damping: after flap_max_changes changes within the window, a resolution waits for a quiet window', () => {
    const p = P({ flap_max_changes: 4, flap_window_ms: 100 });
    const a = newInstance('r{}', 'r', {});
    const states: string[] = [];
    const flapping: boolean[] = [];
    for (const [t, o] of [[0, 'true'], [1, 'false'], [2, 'true'], [3, 'false'], [4, 'true'], [5, 'false'], [50, 'false'], [104, 'false']] as [number, Observation][]) {
      step(a, o, t, p);
      states.push(a.state);
      flapping.push(a.flapping);
    }
    // Changes at 0, 1, 2, 3 → flapping from the 4th; the fire at 4 is held until 4 + 100.
    expect(states).toEqual(['firing', 'resolved', 'firing', 'resolved', 'firing', 'firing', 'firing', 'resolved']);
    expect(flapping).toEqual([false, false, false, true, true, true, true, false]);
  });

  it('reports each transition with from, to and time', () => {
    const a = newInstance('r{}', 'r', {});
    expect(step(a, 'true', 7, P())).toEqual({ from: 'inactive', to: 'firing', at: 7 });
    expect(step(a, 'true', 8, P())).toBeUndefined();
    expect(step(a, 'false', 9, P())).toEqual({ from: 'firing', to: 'resolved', at: 9 });
    expect(a.firingSince).toBe(7);
    expect(a.resolvedAt).toBe(9);
  });
});
