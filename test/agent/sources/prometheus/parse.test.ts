import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { familiesToPoints } from '../../../../agent/sources/prometheus/map.js';
import { formatOf, parseExposition, parseSample } from '../../../../agent/sources/prometheus/parse.js';
import { StartTimes } from '../../../../agent/sources/prometheus/start-times.js';
import type { MetricPoint } from '../../../../core/model.js';

const TEXT = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE temperature gauge
temperature{room="a"} -3.5
`;

const OPENMETRICS = `# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
# TYPE foo counter
foo_total 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67
foo_created 1520430000.123
# TYPE build info
build_info{version="1.2"} 1
# TYPE state stateset
state{state="a"} 1
state{state="b"} 0
# EOF
ignored_after_eof 1
`;

describe('prometheus exposition parser', () => {
  it('parses the text format 0.0.4 reference example', () => {
    const r = parseExposition(TEXT, 'text');
    expect(r.errors).toEqual([]);
    const by = Object.fromEntries(r.families.map((f) => [f.name, f]));
    expect(by['http_requests_total']).toMatchObject({ type: 'counter', help: 'The total number of HTTP requests.' });
    expect(by['http_requests_total']!.samples[0]).toEqual({ name: 'http_requests_total', labels: { method: 'post', code: '200' }, value: 1027, timestamp: 1395066363000 });
    expect(by['msdos_file_access_time_seconds']!.samples[0]!.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(by['something_weird']!.samples[0]).toMatchObject({ value: Number.POSITIVE_INFINITY, timestamp: -3982045 });
    expect(by['http_request_duration_seconds']!.samples).toHaveLength(8);
    expect(by['rpc_duration_seconds']!.samples).toHaveLength(5);
    expect(by['metric_without_timestamp_and_labels']).toMatchObject({ type: 'untyped', samples: [{ value: 12.47 }] });
  });

  it('maps every type to points: counters, histograms de-cumulated, summaries, gauges', () => {
    const r = parseExposition(TEXT, 'text');
    const { points, invalid } = familiesToPoints(r.families, { time: 1000, resource: { 'service.name': 'job' }, labels: { env: 'test' }, honorTimestamps: true });
    expect(invalid).toBe(0);
    const by = (name: string): MetricPoint[] => points.filter((p) => p.name === name);
    expect(by('http_requests_total')[0]).toMatchObject({ type: 'sum', temporality: 'cumulative', monotonic: true, value: 1027, time: 1395066363000, attributes: { env: 'test', method: 'post', code: '200' }, description: 'The total number of HTTP requests.' });
    expect(by('http_request_duration_seconds')).toEqual([
      expect.objectContaining({
        type: 'histogram',
        temporality: 'cumulative',
        count: 144320,
        sum: 53423,
        bucket_bounds: [0.05, 0.1, 0.2, 0.5, 1],
        bucket_counts: [24054, 33444 - 24054, 100392 - 33444, 129389 - 100392, 133988 - 129389, 144320 - 133988],
        time: 1000,
      }),
    ]);
    expect(by('rpc_duration_seconds')[0]).toMatchObject({ type: 'summary', count: 2693, sum: 1.7560473e7, quantiles: [{ quantile: 0.01, value: 3102 }, { quantile: 0.5, value: 4773 }, { quantile: 0.99, value: 76656 }] });
    expect(by('temperature')[0]).toMatchObject({ type: 'gauge', value: -3.5, attributes: { room: 'a', env: 'test' } });
    expect(by('metric_without_timestamp_and_labels')[0]).toMatchObject({ type: 'gauge', value: 12.47, time: 1000 });
  });

  it('parses OpenMetrics: seconds timestamps, _total/_created, exemplars, units, info, stateset, # EOF', () => {
    expect(formatOf('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(formatOf('text/plain; version=0.0.4')).toBe('text');
    const r = parseExposition(OPENMETRICS, 'openmetrics');
    expect(r.errors).toEqual([]);
    expect(r.families.map((f) => f.name)).toEqual(['acme_http_router_request_seconds', 'foo', 'build', 'state']);
    const { points } = familiesToPoints(r.families, { time: 5, resource: {}, labels: {}, honorTimestamps: true });
    expect(points.find((p) => p.name === 'foo_total')).toMatchObject({ type: 'sum', value: 17, time: 1520879607789, start_time: 1520430000123 });
    expect(points.find((p) => p.name === 'acme_http_router_request_seconds')).toMatchObject({ type: 'summary', unit: 'seconds', count: 807283, sum: 9036.32, start_time: 1605281325000, attributes: { path: '/api/v1', method: 'GET' } });
    expect(points.find((p) => p.name === 'build_info')).toMatchObject({ type: 'gauge', value: 1, attributes: { version: '1.2' } });
    expect(points.filter((p) => p.name === 'state')).toHaveLength(2);
    expect(points.some((p) => p.name === 'ignored_after_eof')).toBe(false);
  });

  it('keeps the good lines and reports the bad ones by line number', () => {
    const r = parseExposition('good 1\nbad{ 2\n# TYPE x nonsense\nalso_good{a="b"} 3\nnot_a_number abc\n', 'text');
    expect(r.families.map((f) => f.name)).toEqual(['good', 'also_good']);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 5]);
    expect(r.errorCount).toBe(3);
  });

  it('accepts quoted UTF-8 metric names', () => {
    expect(parseSample('{"my.metric", code="200"} 4', 'text')).toEqual({ name: 'my.metric', labels: { code: '200' }, value: 4 });
  });

  it('skips histogram groups whose buckets decrease', () => {
    const r = parseExposition('# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 6\nh_count 6\n');
    expect(familiesToPoints(r.families, { time: 0, resource: {}, labels: {}, honorTimestamps: true }).invalid).toBe(1);
  });

  it('round-trips any label value through escaping (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ noNaN: true }), (v, x) => {
        const escaped = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
        const s = parseSample(`m{l="${escaped}"} ${String(x)}`, 'text');
        expect(s.labels['l']).toBe(v);
        expect(Object.is(s.value, x) || s.value === x).toBe(true);
      }),
    );
  });
});

describe('scrape start times', () => {
  it('starts a series at first sight and restarts it after a counter reset', () => {
    const st = new StartTimes();
    const c = (value: number, time: number): MetricPoint => ({ kind: 'metric', type: 'sum', temporality: 'cumulative', monotonic: true, name: 'c_total', value, time, attributes: {}, resource: {} });
    const pts = [c(10, 1000), c(15, 2000), c(2, 3000), c(4, 4000)];
    for (const p of pts) st.apply([p]);
    expect(pts.map((p) => p.start_time)).toEqual([1000, 1000, 2000, 2000]);
    expect(st.resets).toBe(1);
  });
});

describe('prometheus text renderer', () => {
  it('renders what the parser reads back: counters, gauges, histograms, summaries, escaped labels', async () => {
    const { renderPrometheusText } = await import('../../../../agent/sources/prometheus/render.js');
    const base = { kind: 'metric' as const, time: 0, resource: {} };
    const text = renderPrometheusText([
      { ...base, name: 'http.requests', type: 'sum', temporality: 'cumulative', monotonic: true, value: 5, attributes: { route: '/a "b"\n' }, description: 'Requests.' },
      { ...base, name: 'queue.depth', type: 'sum', temporality: 'cumulative', monotonic: false, value: -2, attributes: {} },
      { ...base, name: 'lat', type: 'histogram', temporality: 'cumulative', count: 6, sum: 4, bucket_bounds: [0.1, 1], bucket_counts: [3, 2, 1], attributes: { 'k.x': 'v' } },
      { ...base, name: 'rpc', type: 'summary', count: 4, sum: 2, quantiles: [{ quantile: 0.5, value: 0.3 }], attributes: {} },
      { ...base, name: 'exp', type: 'exponential_histogram', temporality: 'delta', count: 0, scale: 0, zero_count: 0, positive: { offset: 0, bucket_counts: [] }, negative: { offset: 0, bucket_counts: [] }, attributes: {} },
    ]);
    const r = parseExposition(text, 'text');
    expect(r.errors).toEqual([]);
    const { points } = familiesToPoints(r.families, { time: 0, resource: {}, labels: {}, honorTimestamps: true });
    expect(points.find((p) => p.name === 'http_requests_total')).toMatchObject({ type: 'sum', value: 5, attributes: { route: '/a "b"\n' }, description: 'Requests.' });
    expect(points.find((p) => p.name === 'queue_depth')).toMatchObject({ type: 'gauge', value: -2 });
    expect(points.find((p) => p.name === 'lat')).toMatchObject({ type: 'histogram', count: 6, sum: 4, bucket_bounds: [0.1, 1], bucket_counts: [3, 2, 1], attributes: { k_x: 'v' } });
    expect(points.find((p) => p.name === 'rpc')).toMatchObject({ type: 'summary', count: 4, sum: 2, quantiles: [{ quantile: 0.5, value: 0.3 }] });
    expect(points.some((p) => p.name === 'exp')).toBe(false);
  });
});
