import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../collector/alerts/alert.js';
import { alertMessages, alertmanagerPayload, recordOfEvent, alertEvent, toRecord } from '../../../collector/alerts/alert.js';
import { DEFAULT_NOTIFIER, Notifier, type NotifierOptions } from '../../../collector/alerts/notifier.js';
import { parseMatchers } from '../../../collector/rules/matchers.js';
import { decodeAlert, encodeAlert } from '../../../core/wire.js';

function alert(name: string, labels: Record<string, string>, state: Alert['state'], t: number): Alert {
  return {
    fingerprint: `${name}${JSON.stringify(labels)}`,
    rule: name,
    labels: { alertname: name, severity: 'warning', ...labels },
    annotations: { summary: `${name} on ${labels['host'] ?? '-'}` },
    state,
    severity: 'warning',
    startsAt: 0,
    endsAt: state === 'resolved' ? t : Number.NaN,
    time: t,
    context: { value: 1, series: ['m{}'] },
    flapping: false,
  };
}

const opts = (o: Partial<NotifierOptions> = {}): NotifierOptions => ({ ...DEFAULT_NOTIFIER, group_wait_ms: 30_000, group_interval_ms: 300_000, repeat_interval_ms: 3_600_000, ...o });
const names = (ns: ReturnType<Notifier['tick']>) => ns.map((n) => `${n.status}:${n.alerts.map((a) => `${a.labels['host']}=${a.state}`).join(',')}`);

describe('notifier (Alertmanager semantics, fake clock)', () => {
  it('groups by alertname: waits group_wait, batches, then group_interval for changes, repeat_interval when unchanged', () => {
    const n = new Notifier(opts());
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    n.update(alert('cpu', { host: 'b' }, 'firing', 10_000), 10_000);
    n.update(alert('disk', { host: 'a' }, 'firing', 10_000), 10_000);
    expect(n.tick(29_999)).toEqual([]);
    expect(names(n.tick(30_000))).toEqual(['firing:a=firing,b=firing']);
    expect(names(n.tick(40_000))).toEqual(['firing:a=firing']); // disk's own group_wait
    // A new alert in the cpu group waits for group_interval.
    n.update(alert('cpu', { host: 'c' }, 'firing', 60_000), 60_000);
    expect(n.tick(100_000)).toEqual([]);
    expect(names(n.tick(330_000))).toEqual(['firing:a=firing,b=firing,c=firing']);
    // Dedup: nothing new, nothing sent, until repeat_interval.
    expect(n.tick(600_000)).toEqual([]);
    expect(names(n.tick(330_000 + 3_600_000)).length).toBe(2);
  });

  it('sends the resolution, then forgets the alert; a resolution of something never notified stays silent', () => {
    const n = new Notifier(opts({ group_wait_ms: 0, group_interval_ms: 0 }));
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    expect(names(n.tick(0))).toEqual(['firing:a=firing']);
    n.update(alert('cpu', { host: 'a' }, 'resolved', 5), 5);
    expect(names(n.tick(5))).toEqual(['resolved:a=resolved']);
    expect(n.alerts()).toEqual([]);
    const m = new Notifier(opts());
    m.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    m.update(alert('cpu', { host: 'a' }, 'resolved', 5), 5);
    expect(m.tick(60_000)).toEqual([]);
    expect(m.alerts()).toEqual([]);
  });

  it('silences alerts matching a silence until it expires (a maintenance window)', () => {
    const n = new Notifier(opts({ group_wait_ms: 0 }));
    n.addSilence({ id: 's1', matchers: parseMatchers(['host="a"'], 't'), startsAt: 0, endsAt: 100_000, createdBy: 'ops', comment: 'maintenance' });
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    expect(n.tick(10)).toEqual([]);
    expect(n.counters.silenced).toBe(1);
    expect(n.activeSilences(50_000).map((s) => s.id)).toEqual(['s1']);
    expect(names(n.tick(100_000))).toEqual(['firing:a=firing']);
    expect(n.activeSilences(100_000)).toEqual([]);
  });

  it('a silence can be expired early', () => {
    const n = new Notifier(opts({ group_wait_ms: 0 }));
    n.addSilence({ id: 's1', matchers: parseMatchers(['alertname="cpu"'], 't'), startsAt: 0, endsAt: 1e12, createdBy: 'ops', comment: '' });
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    expect(n.tick(1)).toEqual([]);
    expect(n.expireSilence('s1', 2)).toBe(true);
    expect(names(n.tick(3))).toEqual(['firing:a=firing']);
  });

  it('inhibits target alerts while a matching source alert fires with equal labels', () => {
    const inhibit = [{ source: parseMatchers(['alertname="host_down"'], 't'), target: parseMatchers(['alertname="cpu"'], 't'), equal: ['host'] }];
    const n = new Notifier(opts({ group_wait_ms: 0, group_by: ['host'], inhibit }));
    n.update(alert('host_down', { host: 'a' }, 'firing', 0), 0);
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    n.update(alert('cpu', { host: 'b' }, 'firing', 0), 0);
    const sent = n.tick(1);
    expect(sent.flatMap((x) => x.alerts.map((a) => `${a.rule}@${a.labels['host']}`)).sort()).toEqual(['cpu@b', 'host_down@a']);
    expect(n.counters.inhibited).toBe(1);
  });

  it('an acknowledged alert is not re-notified by repeat_interval; its resolution still is', () => {
    const n = new Notifier(opts({ group_wait_ms: 0, group_interval_ms: 0, repeat_interval_ms: 1000 }));
    n.update(alert('cpu', { host: 'a' }, 'firing', 0), 0);
    expect(n.tick(0)).toHaveLength(1);
    expect(n.acknowledge('cpu{"host":"a"}', 'alice', 10)).toBe(true);
    expect(n.tick(5000)).toEqual([]);
    n.update(alert('cpu', { host: 'a' }, 'resolved', 6000), 6000);
    expect(names(n.tick(6000))).toEqual(['resolved:a=resolved']);
    expect(n.acknowledge('nope', 'alice', 10)).toBe(false);
  });

  it('bounds the alerts it holds', () => {
    const n = new Notifier(opts({ max_alerts: 2 }));
    for (const h of ['a', 'b', 'c']) n.update(alert('cpu', { host: h }, 'firing', 0), 0);
    expect(n.alerts()).toHaveLength(2);
    expect(n.counters.dropped).toBe(1);
  });
});

describe('alert shapes', () => {
  it('is an AlertRecord on the wire and travels as an event that carries it', () => {
    const a = alert('cpu', { host: 'a' }, 'firing', 10);
    const rec = toRecord(a);
    expect(decodeAlert(encodeAlert(rec).value)).toEqual(rec);
    expect(recordOfEvent(alertEvent(a))).toEqual(rec);
    const [m] = alertMessages([alertEvent(a), { kind: 'metric' }]);
    expect(m!.key).toBe(a.fingerprint);
    expect(decodeAlert(m!.value)).toEqual(rec);
    const r = toRecord(alert('cpu', { host: 'a' }, 'resolved', 20));
    expect([r.state, r.resolved_at]).toEqual(['resolved', 20]);
  });

  it('renders the Alertmanager webhook payload (version 4)', () => {
    const p = alertmanagerPayload({ receiver: 'ops', group_key: 'k', group_labels: { alertname: 'cpu' }, status: 'firing', time: 0, alerts: [alert('cpu', { host: 'a' }, 'firing', 0), alert('cpu', { host: 'b' }, 'resolved', 5)] }, 'http://tw');
    expect(p).toMatchObject({ version: '4', status: 'firing', receiver: 'ops', groupLabels: { alertname: 'cpu' }, commonLabels: { alertname: 'cpu', severity: 'warning' }, externalURL: 'http://tw' });
    const alerts = p['alerts'] as { status: string; endsAt: string; startsAt: string }[];
    expect(alerts.map((x) => [x.status, x.endsAt])).toEqual([['firing', '0001-01-01T00:00:00Z'], ['resolved', '1970-01-01T00:00:00.005Z']]);
  });
});
