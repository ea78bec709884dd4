/**
 * Notification policy, pure, as Alertmanager does it: grouping (group_by, group_wait,
 * group_interval, repeat_interval), inhibition (inhibit_rules: source/target matchers and
 * `equal` labels), silences (matchers with a start and an expiry: maintenance windows), and
 * acknowledgement (an acked alert is not re-notified by repeat_interval until it resolves).
 *
 * Contract: `update(alert, now)` after every state change of an alert (and on each evaluation
 * for active ones: values change); `tick(now)` returns the notifications due, each for one group
 * of alerts, at most one per group per call. Deduplication: an alert is notified when it enters
 * a group's firing set or leaves it (resolved), and again only after `repeat_interval_ms`.
 *
 * Bounded: at most `max_alerts` alerts held (resolved ones leave after they were notified;
 * beyond the limit new alerts are dropped and counted), `max_silences` silences (expired ones
 * pruned on every tick).
 */
import type { Matcher } from '../rules/matchers.js';
import { matches } from '../rules/matchers.js';
import { isActive, type Alert, type Notification } from './alert.js';

export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

export interface Silence {
  readonly id: string;
  readonly matchers: readonly Matcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
}

export interface NotifierOptions {
  readonly receiver: string;
  readonly group_by: readonly string[];
  readonly group_wait_ms: number;
  readonly group_interval_ms: number;
  readonly repeat_interval_ms: number;
  readonly inhibit: readonly InhibitRule[];
  readonly max_alerts: number;
  readonly max_silences: number;
}

export const DEFAULT_NOTIFIER: NotifierOptions = {
  receiver: 'default',
  group_by: ['alertname'],
  group_wait_ms: 30_000,
  group_interval_ms: 300_000,
  repeat_interval_ms: 14_400_000,
  inhibit: [],
  max_alerts: 100_000,
  max_silences: 10_000,
};

interface Group {
  readonly key: string;
  readonly labels: Record<string, string>;
  readonly alerts: Map<string, Alert>;
  readonly createdAt: number;
  lastNotify: number;
  /** Fingerprints (with state) in the last notification. */
  notified: Map<string, string>;
}

export interface NotifierCounters {
  notifications: number;
  silenced: number;
  inhibited: number;
  dropped: number;
}

export class Notifier {
  private readonly groups = new Map<string, Group>();
  private readonly silences = new Map<string, Silence>();
  private readonly acks = new Map<string, { by: string; at: number }>();
  private held = 0;
  readonly counters: NotifierCounters = { notifications: 0, silenced: 0, inhibited: 0, dropped: 0 };

  constructor(private readonly o: NotifierOptions = DEFAULT_NOTIFIER) {}

  groupKey(labels: Readonly<Record<string, string>>): { key: string; labels: Record<string, string> } {
    const gl: Record<string, string> = {};
    for (const k of this.o.group_by) gl[k] = labels[k] ?? '';
    return { key: `{}:${JSON.stringify(gl)}`, labels: gl };
  }

  update(a: Alert, now: number): void {
    const { key, labels } = this.groupKey(a.labels);
    let g = this.groups.get(key);
    if (g === undefined) {
      if (!isActive(a)) return; // a resolution of something never notified: nothing to say
      g = { key, labels, alerts: new Map(), createdAt: now, lastNotify: Number.NaN, notified: new Map() };
      this.groups.set(key, g);
    }
    if (!g.alerts.has(a.fingerprint)) {
      if (!isActive(a)) return;
      if (this.held >= this.o.max_alerts) {
        this.counters.dropped++;
        return;
      }
      this.held++;
    }
    if (!isActive(a)) this.acks.delete(a.fingerprint);
    g.alerts.set(a.fingerprint, { ...a, acknowledged: this.acks.get(a.fingerprint) });
  }

  addSilence(s: Silence): boolean {
    if (!this.silences.has(s.id) && this.silences.size >= this.o.max_silences) return false;
    this.silences.set(s.id, s);
    return true;
  }

  expireSilence(id: string, now: number): boolean {
    const s = this.silences.get(id);
    if (s === undefined) return false;
    this.silences.set(id, { ...s, endsAt: Math.min(s.endsAt, now) });
    return true;
  }

  activeSilences(now: number): Silence[] {
    return [...this.silences.values()].filter((s) => s.startsAt <= now && now < s.endsAt);
  }

  /** Acknowledges an active alert: no repeat notifications until it resolves. */
  acknowledge(fingerprint: string, by: string, now: number): boolean {
    for (const g of this.groups.values()) {
      const a = g.alerts.get(fingerprint);
      if (a !== undefined && isActive(a)) {
        const ack = { by, at: now };
        this.acks.set(fingerprint, ack);
        g.alerts.set(fingerprint, { ...a, acknowledged: ack });
        return true;
      }
    }
    return false;
  }

  isSilenced(labels: Readonly<Record<string, string>>, now: number): boolean {
    for (const s of this.silences.values()) if (s.startsAt <= now && now < s.endsAt && matches(s.matchers, labels)) return true;
    return false;
  }

  isInhibited(a: Alert): boolean {
    for (const r of this.o.inhibit) {
      if (!matches(r.target, a.labels)) continue;
      for (const g of this.groups.values()) {
        for (const src of g.alerts.values()) {
          if (src.fingerprint === a.fingerprint || src.state !== 'firing' || !matches(r.source, src.labels)) continue;
          if (r.equal.every((k) => (src.labels[k] ?? '') === (a.labels[k] ?? ''))) return true;
        }
      }
    }
    return false;
  }

  /** Notifications due at `now`. */
  tick(now: number): Notification[] {
    for (const [id, s] of this.silences) if (s.endsAt <= now) this.silences.delete(id);
    const out: Notification[] = [];
    for (const [key, g] of this.groups) {
      // Muted alerts take no part: a silence or inhibition keeps them out of notifications.
      const visible: Alert[] = [];
      for (const a of g.alerts.values()) {
        if (isActive(a) && this.isSilenced(a.labels, now)) {
          this.counters.silenced++;
          continue;
        }
        if (isActive(a) && this.isInhibited(a)) {
          this.counters.inhibited++;
          continue;
        }
        visible.push(a);
      }
      const current = new Map<string, string>();
      for (const a of visible) if (isActive(a) || g.notified.has(a.fingerprint)) current.set(a.fingerprint, isActive(a) ? 'active' : 'resolved');
      const changed = [...current].some(([fp, st]) => g.notified.get(fp) !== st);
      const anyActive = [...current.values()].includes('active');
      const allAcked = visible.filter(isActive).every((a) => a.acknowledged !== undefined);
      let due = false;
      if (Number.isNaN(g.lastNotify)) due = anyActive && now - g.createdAt >= this.o.group_wait_ms;
      else if (changed) due = now - g.lastNotify >= this.o.group_interval_ms;
      else due = anyActive && !allAcked && now - g.lastNotify >= this.o.repeat_interval_ms;
      if (due && current.size > 0) {
        const alerts = visible.filter((a) => current.has(a.fingerprint));
        out.push({ receiver: this.o.receiver, group_key: key, group_labels: g.labels, status: anyActive ? 'firing' : 'resolved', alerts, time: now });
        this.counters.notifications++;
        g.lastNotify = now;
        g.notified = current;
        // Resolved alerts leave once their resolution went out.
        for (const [fp, st] of current) {
          if (st === 'resolved') {
            g.alerts.delete(fp);
            g.notified.delete(fp);
            this.held--;
          }
        }
      }
      // A resolved alert that was never notified (resolved within group_wait) leaves silently.
      for (const a of [...g.alerts.values()]) {
        if (!isActive(a) && !g.notified.has(a.fingerprint)) {
          g.alerts.delete(a.fingerprint);
          this.held--;
        }
      }
      if (g.alerts.size === 0) this.groups.delete(key);
    }
    return out;
  }

  /** Alerts held (active and awaiting their resolution notice). */
  alerts(): Alert[] {
    const out: Alert[] = [];
    for (const g of this.groups.values()) out.push(...g.alerts.values());
    return out;
  }
}
