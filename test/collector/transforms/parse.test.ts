import { describe, expect, it } from 'vitest';
import type { ComponentContext } from '../../../core/component.js';
import type { Event, LogRecord } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { silentLogger } from '../../../core/log.js';
import { checkValue } from '../../../core/config/check.js';
import { components } from '../../../collector/components.js';
import { Parse, schema, type ParseConfig } from '../../../collector/transforms/parse.js';
import { fixture } from '../parsers/fixtures.js';

const NOW = Date.UTC(2026, 10, 25, 10, 0, 30);

function ctx(): ComponentContext & { telemetry: MemoryTelemetry } {
  return { name: 'p', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => NOW, agentId: 'a', hostName: 'h', bus: undefined };
}

function log(body: string, attributes: LogRecord['attributes'] = {}, resource: LogRecord['resource'] = {}): LogRecord {
  return { kind: 'log', observed_time: NOW, severity_number: 0, severity_text: '', body, attributes, resource };
}

/** Builds the transform from YAML-shaped config, through the schema (defaults applied) as the loader does. */
function build(config: unknown, c = ctx()): { t: Parse; c: ReturnType<typeof ctx> } {
  const { value, issues } = checkValue(schema, config);
  expect(issues).toEqual([]);
  return { t: new Parse(value as ParseConfig, c), c };
}

describe('parse transform', () => {
  it('is registered in the collector', async () => {
    const entry = components.find((e) => e.type === 'parse');
    expect(entry?.role).toBe('transform');
    expect((await entry!.load()).type).toBe('parse');
  });

  it('routes by path glob and service; unmatched records pass unchanged', () => {
    const { t, c } = build({
      routes: [
        { name: 'nginx', match: { path_glob: '/var/log/nginx/*.log' }, steps: [{ preset: 'nginx_combined' }] },
        { name: 'api', match: { service: ['api'] }, steps: [{ json: {} }] },
      ],
    });
    const access = log(fixture('nginx_combined.log')[0]!, { 'log.file.path': '/var/log/nginx/access.log' });
    const api = log('{"level":"warn","msg":"slow"}', {}, { 'service.name': 'api' });
    const other = log('hello', { 'log.file.path': '/var/log/app.log' });
    const [a, b, o] = t.process([access, api, other], NOW) as LogRecord[];
    expect(a!.attributes['http.response.status_code']).toBe(200);
    expect(a!.attributes['log.file.path']).toBe('/var/log/nginx/access.log');
    expect(a!.time).toBe(Date.UTC(2026, 10, 25, 10));
    expect(a!.severity_number).toBe(9);
    expect(b!.attributes).toEqual({ level: 'warn', msg: 'slow' });
    expect(o).toBe(other);
    // The input record was not changed (records are shared between stages).
    expect(access.attributes).toEqual({ 'log.file.path': '/var/log/nginx/access.log' });
    expect(c.telemetry.value('tidewatch_parse_records_total', { component: 'p', route: 'nginx', result: 'parsed' })).toBe(1);
    expect(c.telemetry.value('tidewatch_parse_records_total', { component: 'p', route: '', result: 'unrouted' })).toBe(1);
  });

  it('a line that fails passes on with parse_error, counted by step and reason', () => {
    const { t, c } = build({ routes: [{ steps: [{ preset: 'syslog_rfc5424' }, { json: {} }] }] });
    const out = t.process([log('not syslog at all')], NOW) as LogRecord[];
    expect(out).toHaveLength(1);
    expect(out[0]!.attributes['parse_error']).toBe('syslog_rfc5424: bad_priority');
    expect(out[0]!.body).toBe('not syslog at all');
    expect(c.telemetry.value('tidewatch_parse_errors_total', { component: 'p', route: 'route_0', step: 'syslog_rfc5424', reason: 'bad_priority' })).toBe(1);
    expect(c.telemetry.value('tidewatch_parse_errors_total', { component: 'p', route: 'route_0', step: 'json', reason: 'not_object' })).toBe(1);
    expect(c.telemetry.value('tidewatch_parse_records_total', { component: 'p', route: 'route_0', result: 'failed' })).toBe(1);
  });

  it('json + timestamp + severity + rename + drop, as for a pino log', () => {
    const { t } = build({
      routes: [
        {
          steps: [
            { json: {} },
            { timestamp: { field: 'time', formats: ['epoch_ms'], remove: true } },
            { severity: { field: 'level', remove: true } },
            { rename: { msg: 'body', reqId: 'request.id' } },
            { drop: ['pid', 'hostname'] },
          ],
        },
      ],
    });
    const line = '{"level":50,"time":1795600800123,"pid":7,"hostname":"web-1","reqId":"r-1","msg":"upstream timed out","err":{"type":"TimeoutError"}}';
    const [r] = t.process([log(line)], NOW) as LogRecord[];
    expect(r).toMatchObject({ time: 1_795_600_800_123, severity_number: 17, severity_text: 'error', body: 'upstream timed out' });
    expect(r!.attributes).toEqual({ 'request.id': 'r-1', 'err.type': 'TimeoutError' });
  });

  it('timestamp fallback: observed time, counted by reason', () => {
    const { t, c } = build({ routes: [{ steps: [{ logfmt: {} }, { timestamp: { field: 'ts' } }] }] });
    const [missing, bad, good] = t.process([log('a=1'), log('ts=yesterday'), log('ts=2026-11-25T09:00:00Z')], NOW) as LogRecord[];
    expect(missing!.time).toBe(NOW);
    expect(missing!.attributes['parse_error']).toBeUndefined();
    expect(bad!.time).toBe(NOW);
    expect(bad!.attributes['parse_error']).toBe('timestamp: unparsable');
    expect(good!.time).toBe(Date.UTC(2026, 10, 25, 9));
    expect(c.telemetry.value('tidewatch_parse_time_fallback_total', { component: 'p', reason: 'missing' })).toBe(1);
    expect(c.telemetry.value('tidewatch_parse_time_fallback_total', { component: 'p', reason: 'unparsable' })).toBe(1);
  });

  it('regex with types, then filter and keep', () => {
    const { t, c } = build({
      routes: [
        {
          steps: [
            { regex: { pattern: '^(?<method>[A-Z]+) (?<path>\\S+) (?<status>\\d{3})$', types: { status: 'integer' } } },
            { filter: { drop_if: ['path == /healthz'], keep_if: ['status >= 400'] } },
            { keep: ['status', 'path'] },
          ],
        },
      ],
    });
    const out = t.process([log('GET /healthz 500'), log('GET /a 200'), log('POST /b 503'), log('garbage')], NOW) as LogRecord[];
    // "garbage" fails the regex and is then dropped by keep_if (no status).
    expect(out.map((r) => r.attributes)).toEqual([{ status: 503, path: '/b' }]);
    expect(c.telemetry.value('tidewatch_parse_dropped_total', { component: 'p', route: 'route_0', reason: 'filter' })).toBe(3);
  });

  it('sample keeps the same records every time and marks the rate', () => {
    const cfg = { routes: [{ steps: [{ logfmt: {} }, { sample: { rate: 0.5, key: 'user' } }] }] };
    const events = Array.from({ length: 400 }, (_, i) => log(`user=u${i % 50} n=${i}`));
    const a = build(cfg).t.process(events, NOW) as LogRecord[];
    const b = build(cfg).t.process(events, NOW) as LogRecord[];
    expect(a.map((r) => r.attributes['n'])).toEqual(b.map((r) => r.attributes['n']));
    expect(a.length).toBeGreaterThan(100);
    expect(a.length).toBeLessThan(300);
    // Whole users are kept or dropped: every kept user has all 8 of its lines.
    const perUser = new Map<string, number>();
    for (const r of a) perUser.set(String(r.attributes['user']), (perUser.get(String(r.attributes['user'])) ?? 0) + 1);
    expect([...perUser.values()].every((n) => n === 8)).toBe(true);
    expect(a[0]!.attributes['tidewatch.sample_rate']).toBe(0.5);
  });

  it('tracebacks and klog set time, severity and exception attributes', () => {
    const { t } = build({ routes: [{ match: { attributes: { lang: 'java' } }, steps: [{ preset: 'java_traceback' }] }, { steps: [{ preset: 'klog', timezone: 'UTC' }] }] });
    const java = log(fixture('java_traceback.log', true)[1]!, { lang: 'java' });
    const [j, k] = t.process([java, log(fixture('klog.log')[0]!)], NOW) as LogRecord[];
    expect(j!.attributes['exception.type']).toBe('java.lang.NullPointerException');
    expect(j!.severity_number).toBe(17);
    expect(k!.attributes['code.filepath']).toBe('main.go');
  });

  it('Kubernetes container logs: cri, pod and container from the path, then the message as the body and a preset on it (klog here)', () => {
    const steps = [{ preset: 'cri' }, { preset: 'kubernetes_path', source: 'log.file.path' }, { rename: { message: 'body' } }, { preset: 'klog', timezone: 'UTC' }];
    const { t } = build({ routes: [{ match: { path_glob: '/var/log/containers/*.log' }, steps }] });
    const line = '2026-11-26T10:00:00.200000000Z stderr F E1126 10:00:00.200000       1 controller.go:114] "sync failed" err="timeout"';
    const path = `/var/log/containers/ctrl-5f6d7-abcde_kube-system_manager-${'0f'.repeat(32)}.log`;
    const [r] = t.process([log(line, { 'log.file.path': path })], NOW) as LogRecord[];
    expect(r!.attributes).toMatchObject({ 'k8s.pod.name': 'ctrl-5f6d7-abcde', 'k8s.namespace.name': 'kube-system', 'k8s.container.name': 'manager', 'container.id': '0f'.repeat(32) });
    expect(r!.attributes['log.iostream']).toBe('stderr');
    expect(r!.attributes['code.filepath']).toBe('controller.go');
    expect(r!.attributes['err']).toBe('timeout');
    expect(r!.severity_number).toBe(17);
    expect(r!.time).toBe(Date.UTC(2026, 10, 26, 10, 0, 0, 200));
    expect(String(r!.body).startsWith('E1126 10:00:00.200000')).toBe(true); // the runtime's prefix is gone
  });

  it('metric events pass through', () => {
    const { t } = build({ routes: [{ steps: [{ json: {} }] }] });
    const m: Event = { kind: 'metric', type: 'gauge', name: 'x', time: 0, value: 1, attributes: {}, resource: {} };
    expect(t.process([m], NOW)).toEqual([m]);
  });

  it.each([
    [{ routes: [{ steps: [{ regex: { pattern: '(?<a>a+)+' } }] }] }, 'unsafe pattern'],
    [{ routes: [{ steps: [{ timestamp: { timezone: 'Nowhere/City' } }] }] }, 'unknown time zone'],
    [{ routes: [{ steps: [{ filter: { keep_if: ['status ~ 5'] } }] }] }, 'unknown operator'],
    [{ routes: [{ steps: [{ preset: 'klog', timezone: 'Nowhere/City' }] }] }, 'unknown time zone'],
  ])('refuses a bad config at create time: %j', (config, msg) => {
    const { value } = checkValue(schema, config);
    expect(() => new Parse(value as ParseConfig, ctx())).toThrow(msg);
  });

  it('the schema refuses unknown steps and presets', () => {
    expect(checkValue(schema, { routes: [{ steps: [{ preset: 'nginx' }] }] }).issues.length).toBeGreaterThan(0);
    expect(checkValue(schema, { routes: [{ steps: [{ grok: {} }] }] }).issues.length).toBeGreaterThan(0);
    expect(checkValue(schema, { routes: [] }).issues.length).toBeGreaterThan(0);
  });

  it('never throws on hostile records', () => {
    const { t } = build({
      routes: [{ steps: [{ json: {} }, { logfmt: {} }, { preset: 'nginx_combined' }, { timestamp: { field: 'time' } }, { severity: {} }, { rename: { x: 'body', y: 'resource.z' } }] }],
    });
    const weird: LogRecord[] = [
      log('{"__proto__":{"x":1},"time":{"a":1},"level":[1]}'),
      { ...log(''), body: { nested: true } },
      { ...log(''), body: null },
      log('{"x":{"y":1},"y":"v"}'),
    ];
    expect(() => t.process(weird, NOW)).not.toThrow();
  });
});

describe('parse step shape', () => {
  it.each([
    [{ routes: [{ steps: [{}] }] }, 'a step needs one of'],
    [{ routes: [{ steps: [{ json: {}, logfmt: {} }] }] }, 'one step per list item'],
    [{ routes: [{ steps: [{ json: {}, timezone: 'UTC' }] }] }, 'go with `preset`'],
  ])('refuses %j', (config, msg) => {
    const { value } = checkValue(schema, config);
    expect(() => new Parse(value as ParseConfig, ctx())).toThrow(msg);
  });

  it('rename into the resource copies the resource, never changes the input', () => {
    const { t } = build({ routes: [{ steps: [{ logfmt: {} }, { rename: { svc: 'resource.service.name' } }] }] });
    const input = log('svc=api a=1', {}, { 'host.name': 'h1' });
    const [r] = t.process([input], NOW) as LogRecord[];
    expect(r!.resource).toEqual({ 'host.name': 'h1', 'service.name': 'api' });
    expect(input.resource).toEqual({ 'host.name': 'h1' });
    expect(r!.attributes).toEqual({ a: '1' });
  });
});

describe('configs/collector-parse.yaml', () => {
  it('every transform in the example builds; its nginx route parses and redacts a line, its container routes read joined lines', async () => {
    const { parse: parseYaml } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const { Redact, schema: redactSchema } = await import('../../../collector/transforms/redact.js');
    const { LogToMetric, schema: l2mSchema } = await import('../../../collector/transforms/log-to-metric.js');
    const doc = parseYaml(readFileSync(new URL('../../../configs/collector-parse.yaml', import.meta.url), 'utf8')) as { transforms: Record<string, { type: string }> };
    const strip = (o: { type: string }): Record<string, unknown> => {
      const { type: _t, ...rest } = o;
      return rest;
    };
    const p = build(strip(doc.transforms['parse']!)).t;
    const red = checkValue(redactSchema, strip(doc.transforms['redact']!));
    expect(red.issues).toEqual([]);
    const r = new Redact(red.value as never, ctx());
    const l2m = checkValue(l2mSchema, strip(doc.transforms['metrics']!));
    expect(l2m.issues).toEqual([]);
    expect(() => new LogToMetric(l2m.value as never, ctx())).not.toThrow();
    const line = '203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET /api/v1/cart?token=abc HTTP/1.1" 200 12 "-" "curl/8.5.0" "-" 0.05';
    const [out] = r.process(p.process([log(line, { 'log.file.path': '/var/log/nginx/access.log' })], NOW), NOW) as LogRecord[];
    expect(out!.attributes['client.address']).toBe('[REDACTED:ipv4]');
    expect(out!.attributes['url.query']).toBeUndefined();
    expect(out!.attributes['request_time']).toBe(0.05);
    expect(String(out!.body)).not.toContain('203.0.113.9');
    const [health] = p.process([log(line.replace('/api/v1/cart?token=abc', '/healthz'), { 'log.file.path': '/var/log/nginx/access.log' })], NOW);
    expect(health).toBeUndefined();

    // Container logs: a line the runtime split, joined by the agent's multiline cri preset.
    const id = 'ab'.repeat(32);
    const cri = ['2026-11-26T10:00:00.5Z stdout P {"level":"warn","msg":"cart', '2026-11-26T10:00:00.6Z stdout F  slow"}'].join('\n');
    const [pod] = p.process([log(cri, { 'log.file.path': `/var/log/containers/cart-7f9c-x1_shop_app-${id}.log` })], NOW) as LogRecord[];
    expect(pod!.body).toBe('{"level":"warn","msg":"cart slow"}');
    expect(pod!.attributes).toMatchObject({ 'k8s.pod.name': 'cart-7f9c-x1', 'k8s.namespace.name': 'shop', 'k8s.container.name': 'app', 'container.id': id, 'log.iostream': 'stdout', msg: 'cart slow' });
    expect(pod!.attributes['parse_error']).toBeUndefined();
    expect(pod!.time).toBe(Date.UTC(2026, 10, 26, 10, 0, 0, 500));
    const docker = [JSON.stringify({ log: 'half ', stream: 'stderr', time: '2026-11-26T10:00:01Z' }), JSON.stringify({ log: 'and half\n', stream: 'stderr', time: '2026-11-26T10:00:01Z' })].join('\n');
    const [ctr] = p.process([log(docker, { 'log.file.path': `/var/lib/docker/containers/${id}/${id}-json.log` })], NOW) as LogRecord[];
    expect(ctr!.body).toBe('half and half');
    expect(ctr!.attributes).toMatchObject({ 'container.id': id, 'log.iostream': 'stderr' });
    expect(ctr!.attributes['parse_error']).toBeUndefined();
  });
});

describe('parse transform, property', () => {
  it('any body through every kind of step: no throw, no record invented, failures marked', async () => {
    const fc = (await import('fast-check')).default;
    const { scale } = await import('../../support/scale.js');
    const { t } = build({
      routes: [
        {
          steps: [
            { json: {} },
            { logfmt: {} },
            { regex: { pattern: '^(?<word>\\w+)' } },
            { preset: 'syslog_rfc3164' },
            { timestamp: { field: 'ts', formats: ['rfc3339', 'epoch'] } },
            { severity: { field: 'level' } },
            { rename: { word: 'first' } },
            { filter: { drop_if: ['first == drop'] } },
            { sample: { rate: 0.9, key: 'body' } },
          ],
        },
      ],
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.constantFrom('drop me', 'level=warn ts=1795600800', '<13>Nov 25 10:00:00 h app: x')), { maxLength: 20 }), (bodies) => {
        const out = t.process(bodies.map((b) => log(b)), NOW) as LogRecord[];
        expect(out.length).toBeLessThanOrEqual(bodies.length);
        for (const r of out) {
          expect(typeof r.time).toBe('number');
          expect(r.attributes['first']).not.toBe('drop');
          // Every body here fails at least one parser (json, logfmt and syslog cannot all fit).
          expect(typeof r.attributes['parse_error']).toBe('string');
        }
      }),
      { numRuns: scale(200, 2000) },
    );
  });
});
