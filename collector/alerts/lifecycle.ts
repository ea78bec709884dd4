/**
 * The alert lifecycle, pure: one `AlertInstance` per fingerprint (rule + labels), stepped once
 * per evaluation with what the rule saw for it.
 *
 *   inactive ──true──► pending ──true for `for_ms`──► firing ──false for `keep_firing_for_ms`──► resolved
 *       ▲                 │                              ▲                                     │
 *       └──────false──────┘                              └──────────────true───────────────────┘ (via pending)
 *
 * plus `nodata` (the group's series went stale or never came) and `error` (the evaluation failed
 * or produced a non-finite value). What those two mean is the rule's choice, as in Grafana:
 * `no_data_state` / `error_state` = `nodata`/`error` (a state of its own, notified), `alerting`
 * (treated as true) or `ok` (treated as false).
 *
 * Flap damping (after Nagios' flap detection): an instance that changed between firing and
 * resolved `flap_max_changes` times within `flap_window_ms` is flapping; while it is, a
 * resolution waits until the condition has been false for `flap_window_ms`, so an oscillating
 * signal yields one long alert instead of a notification storm.
 *
 * `step` returns the transition it made (for notifications, records and history), or undefined.
 */

export type LifecycleState = 'inactive' | 'pending' | 'firing' | 'resolved' | 'nodata' | 'error';
export type Observation = 'true' | 'false' | 'nodata' | 'error';

export interface LifecyclePolicy {
  readonly for_ms: number;
  readonly keep_firing_for_ms: number;
  readonly no_data_state: 'nodata' | 'alerting' | 'ok';
  readonly error_state: 'error' | 'alerting' | 'ok';
  readonly flap_max_changes: number;
  readonly flap_window_ms: number;
}

export const DEFAULT_POLICY: LifecyclePolicy = {
  for_ms: 0,
  keep_firing_for_ms: 0,
  no_data_state: 'nodata',
  error_state: 'error',
  flap_max_changes: 4,
  flap_window_ms: 600_000,
};

export interface AlertInstance {
  readonly fingerprint: string;
  readonly rule: string;
  readonly labels: Readonly<Record<string, string>>;
  state: LifecycleState;
  /** When the current pending/firing episode began (the condition first true). */
  activeSince: number;
  /** When it last started firing. */
  firingSince: number;
  /** Last evaluation with the condition true. */
  lastTrue: number;
  resolvedAt: number;
  /** Firing ⇄ resolved changes, newest last, at most 16. */
  readonly changes: number[];
  flapping: boolean;
  lastEval: number;
}

export interface Transition {
  readonly from: LifecycleState;
  readonly to: LifecycleState;
  readonly at: number;
}

export function newInstance(fingerprint: string, rule: string, labels: Readonly<Record<string, string>>): AlertInstance {
  return {
    fingerprint,
    rule,
    labels,
    state: 'inactive',
    activeSince: Number.NaN,
    firingSince: Number.NaN,
    lastTrue: Number.NaN,
    resolvedAt: Number.NaN,
    changes: [],
    flapping: false,
    lastEval: Number.NaN,
  };
}

function effective(obs: Observation, p: LifecyclePolicy): Observation {
  if (obs === 'nodata') return p.no_data_state === 'alerting' ? 'true' : p.no_data_state === 'ok' ? 'false' : 'nodata';
  if (obs === 'error') return p.error_state === 'alerting' ? 'true' : p.error_state === 'ok' ? 'false' : 'error';
  return obs;
}

function noteChange(a: AlertInstance, now: number, p: LifecyclePolicy): void {
  a.changes.push(now);
  if (a.changes.length > 16) a.changes.shift();
  a.flapping = flappingAt(a, now, p);
}

function flappingAt(a: AlertInstance, now: number, p: LifecyclePolicy): boolean {
  if (p.flap_max_changes <= 0) return false;
  let n = 0;
  for (const t of a.changes) if (now - t < p.flap_window_ms) n++;
  return n >= p.flap_max_changes;
}

export function step(a: AlertInstance, observed: Observation, now: number, p: LifecyclePolicy): Transition | undefined {
  const from = a.state;
  const obs = effective(observed, p);
  a.lastEval = now;
  const go = (to: LifecycleState): Transition | undefined => {
    if (to === from) return undefined;
    a.state = to;
    return { from, to, at: now };
  };
  if (obs === 'nodata' || obs === 'error') {
    // A firing alert whose data vanished is no longer known to be firing: it moves to nodata/error.
    return go(obs);
  }
  if (obs === 'true') {
    a.lastTrue = now;
    switch (from) {
      case 'inactive':
      case 'resolved':
      case 'nodata':
      case 'error':
        a.activeSince = now;
        if (p.for_ms > 0) return go('pending');
        return fire(a, now, p, from);
      case 'pending':
        if (now - a.activeSince >= p.for_ms) return fire(a, now, p, from);
        return undefined;
      case 'firing':
        return undefined;
    }
  }
  // obs === 'false'
  switch (from) {
    case 'pending':
    case 'nodata':
    case 'error':
      return go('inactive');
    case 'firing': {
      const hold = Math.max(p.keep_firing_for_ms, a.flapping ? p.flap_window_ms : 0);
      if (now - a.lastTrue < hold) return undefined;
      a.resolvedAt = now;
      noteChange(a, now, p);
      return go('resolved');
    }
    default:
      return undefined;
  }
}

function fire(a: AlertInstance, now: number, p: LifecyclePolicy, from: LifecycleState): Transition {
  a.state = 'firing';
  a.firingSince = now;
  noteChange(a, now, p);
  return { from, to: 'firing', at: now };
}
