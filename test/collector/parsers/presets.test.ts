import { describe, expect, it } from 'vitest';
import { presetParsers, PRESETS, type PresetName } from '../../../collector/parsers/presets.js';
import type { ParseResult, Parsed } from '../../../collector/parsers/result.js';
import { zone } from '../../../collector/parsers/timestamp.js';
import { fixture } from './fixtures.js';

const NOW = Date.UTC(2026, 10, 25, 10, 0, 30);
const MULTILINE = new Set<PresetName>(['java_traceback', 'python_traceback', 'go_panic']);

function ok(r: ParseResult): Parsed {
  if (!r.ok) throw new Error(`expected a parse, got ${r.reason}`);
  return r;
}

function run(p: PresetName, line: string): ParseResult {
  return presetParsers[p](line, NOW, undefined);
}

describe('every preset against its fixtures', () => {
  for (const p of PRESETS) {
    const multi = MULTILINE.has(p);
    it(`${p}: every well-formed line parses`, () => {
      const lines = fixture(`${p}.log`, multi);
      expect(lines.length).toBeGreaterThanOrEqual(4);
      for (const line of lines) {
        const r = run(p, line);
        expect(r.ok, `${p} should parse: ${line}`).toBe(true);
      }
    });
    it(`${p}: every malformed line fails with a reason, without throwing`, () => {
      const lines = fixture(`${p}.malformed.log`, multi);
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) {
        const r = run(p, line);
        expect(r.ok, `${p} should refuse: ${line}`).toBe(false);
        if (!r.ok) expect(r.reason).toMatch(/^[a-z_]+$/);
      }
    });
  }
});

describe('nginx_combined', () => {
  const lines = fixture('nginx_combined.log');
  it('reads the combined fields with OpenTelemetry names, time and severity', () => {
    const r = ok(run('nginx_combined', lines[1]!));
    expect(r.fields).toEqual({
      'client.address': '10.0.3.17',
      'user.name': 'alice',
      'http.request.method': 'POST',
      'url.original': '/api/v1/cart?session=abc&item=42',
      'url.path': '/api/v1/cart',
      'url.query': 'session=abc&item=42',
      'network.protocol.name': 'http',
      'network.protocol.version': '2.0',
      'http.response.status_code': 201,
      'http.response.status_class': '2xx',
      'http.response.body.size': 87,
      'http.request.header.referer': 'https://shop.example.com/products/42',
      'user_agent.original': 'curl/8.5.0',
    });
    expect(r.time).toBe(Date.UTC(2026, 10, 25, 10, 0, 1));
    expect(r.severityNumber).toBe(9);
  });
  it('writes into a given map only when the whole line parsed', () => {
    const into = { keep: 1 };
    expect(presetParsers.nginx_combined(fixture('nginx_combined.malformed.log')[4]!, NOW, undefined, into).ok).toBe(false);
    expect(into).toEqual({ keep: 1 });
    const r = ok(presetParsers.nginx_combined(lines[0]!, NOW, undefined, into));
    expect(r.fields).toBe(into);
    expect(into).toMatchObject({ keep: 1, 'client.address': '93.184.216.34', 'http.response.status_code': 200 });
  });
  it('reads Buffers as UTF-8', () => {
    expect(ok(presetParsers.nginx_combined(Buffer.from(lines[0]!), NOW)).fields['client.address']).toBe('93.184.216.34');
  });
  it('applies the offset in the timestamp', () => {
    expect(ok(run('nginx_combined', lines[2]!)).time).toBe(Date.UTC(2026, 10, 25, 9, 0, 2));
  });
  it('reads x_forwarded_for, key=value extras and a trailing request_time', () => {
    expect(ok(run('nginx_combined', lines[3]!)).fields['http.request.header.x_forwarded_for']).toBe('203.0.113.7, 10.0.0.1');
    const kv = ok(run('nginx_combined', lines[5]!));
    expect(kv.fields).toMatchObject({ rt: 1.503, uct: 0.001, urt: 1.502, 'http.response.status_class': '5xx' });
    expect(kv.severityNumber).toBe(17);
    expect(ok(run('nginx_combined', lines[7]!)).fields['request_time']).toBe(0.042);
  });
  it('maps 4xx to WARN and keeps a request line that is not HTTP', () => {
    expect(ok(run('nginx_combined', lines[4]!)).severityNumber).toBe(13);
    const tls = ok(run('nginx_combined', lines[6]!));
    expect(tls.fields['url.original']).toBe('\\x16\\x03\\x01\\x00\\xF2\\x01\\x00\\x00\\xEE\\x03\\x03');
    expect(tls.fields['http.request.method']).toBeUndefined();
  });
  it('names what is wrong with a malformed line', () => {
    const bad = fixture('nginx_combined.malformed.log').map((l) => run('nginx_combined', l));
    expect(bad.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
      'no_size', 'no_timestamp', 'no_status', 'bad_status', 'no_user_agent', 'bad_size', 'no_request', 'empty', 'no_timestamp',
    ]);
  });
});

describe('apache_combined and clf', () => {
  it('reads the Apache documentation example', () => {
    const r = ok(run('apache_combined', fixture('apache_combined.log')[0]!));
    expect(r.fields).toMatchObject({
      'client.address': '127.0.0.1',
      'user.name': 'frank',
      'url.path': '/apache_pb.gif',
      'network.protocol.version': '1.0',
      'http.response.status_code': 200,
      'http.response.body.size': 2326,
      'http.request.header.referer': 'http://www.example.com/start.html',
      'user_agent.original': 'Mozilla/4.08 [en] (Win98; I ;Nav)',
    });
    expect(r.time).toBe(Date.UTC(2000, 9, 10, 20, 55, 36));
  });
  it('unescapes \\" in quoted fields, reads "-" sizes as absent and %D as microseconds', () => {
    const lines = fixture('apache_combined.log');
    expect(ok(run('apache_combined', lines[2]!)).fields['user_agent.original']).toBe('Mozilla/5.0 "evil" agent');
    expect(ok(run('apache_combined', lines[3]!)).fields['http.response.body.size']).toBeUndefined();
    expect(ok(run('apache_combined', lines[4]!)).fields['request_duration_us']).toBe(183422);
  });
  it('clf: ident is ignored, +0530 offsets apply', () => {
    const lines = fixture('clf.log');
    expect(ok(run('clf', lines[0]!)).fields['user.name']).toBe('frank');
    expect(ok(run('clf', lines[3]!)).time).toBe(Date.UTC(2026, 10, 25, 4, 30, 2));
  });
  it('an invalid date still parses the line but reports the time as unusable', () => {
    const r = ok(run('clf', '127.0.0.1 - - [32/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 5'));
    expect(r.time).toBeUndefined();
    expect(r.timeError).toBe(true);
  });
});

describe('syslog', () => {
  it('RFC 3164 with a PRI: facility, severity, host, tag, year inferred', () => {
    const r = ok(run('syslog_rfc3164', fixture('syslog_rfc3164.log')[0]!));
    expect(r.fields).toEqual({
      'syslog.facility': 4,
      'syslog.priority': 34,
      'syslog.hostname': 'mymachine',
      'syslog.appname': 'su',
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(r.severityNumber).toBe(18); // 34 & 7 = 2, critical
    expect(r.time).toBe(Date.UTC(2026, 9, 11, 22, 14, 15));
  });
  it('RFC 3164 as written to files: no PRI, procid, single-digit day, RFC 3339 stamps', () => {
    const lines = fixture('syslog_rfc3164.log');
    expect(ok(run('syslog_rfc3164', lines[1]!)).time).toBe(Date.UTC(2026, 1, 5, 17, 32, 18));
    const ssh = ok(run('syslog_rfc3164', lines[2]!));
    expect(ssh.fields).toMatchObject({ 'syslog.appname': 'sshd', 'syslog.procid': '20211', 'syslog.hostname': 'web-1' });
    expect(ssh.severityNumber).toBeUndefined();
    const systemd = ok(run('syslog_rfc3164', lines[6]!));
    expect(systemd.time).toBe(Date.parse('2026-11-25T10:00:02.123Z') + 0.456);
    expect(ok(run('syslog_rfc3164', lines[7]!)).severityNumber).toBe(21);
  });
  it('infers last year for a December line read in January', () => {
    const jan = Date.UTC(2027, 0, 2);
    const r = presetParsers.syslog_rfc3164('Dec 31 23:59:59 h app: x', jan);
    expect(ok(r).time).toBe(Date.UTC(2026, 11, 31, 23, 59, 59));
  });
  it('reads times without a zone in the configured zone', () => {
    const r = presetParsers.syslog_rfc3164('Nov 25 10:00:00 h app: x', NOW, zone('Europe/Berlin'));
    expect(ok(r).time).toBe(Date.UTC(2026, 10, 25, 9, 0, 0));
  });
  it('RFC 5424: header, nil values, structured data with escapes, message', () => {
    const lines = fixture('syslog_rfc5424.log');
    const first = ok(run('syslog_rfc5424', lines[0]!));
    expect(first.fields).toMatchObject({ 'syslog.version': 1, 'syslog.hostname': 'mymachine.example.com', 'syslog.appname': 'su', 'syslog.msgid': 'ID47' });
    expect(first.fields['syslog.procid']).toBeUndefined();
    expect(first.time).toBe(Date.parse('2003-10-11T22:14:15.003Z'));
    expect(ok(run('syslog_rfc5424', lines[1]!)).time).toBe(Date.parse('2003-08-24T12:14:15.000Z') + 0.003);
    const sd = ok(run('syslog_rfc5424', lines[3]!));
    expect(sd.fields).toMatchObject({ 'syslog.sd.exampleSDID@32473.eventID': '1011', 'syslog.sd.examplePriority@32473.class': 'high' });
    expect(sd.fields['message']).toBeUndefined();
    const esc = ok(run('syslog_rfc5424', lines[4]!));
    expect(esc.fields['syslog.sd.meta.note']).toBe('escaped "quote" and ] bracket');
    expect(esc.fields['message']).toBe('Pod sandbox changed, it will be killed and re-created.');
    expect(esc.severityNumber).toBe(9);
  });
});

describe('container logs: cri and docker', () => {
  it('cri: stream, message and the nanosecond time; a partial piece is marked, tags after F/P are accepted', () => {
    expect(ok(run('cri', '2026-11-26T10:00:00.123456789Z stdout F GET /healthz 200'))).toEqual({
      ok: true,
      fields: { 'log.iostream': 'stdout', message: 'GET /healthz 200' },
      time: Date.UTC(2026, 10, 26, 10, 0, 0, 123) + 0.456, // microseconds kept, as every RFC 3339 time here
    });
    expect(ok(run('cri', '2026-11-26T11:00:01+01:00 stderr P first piece')).fields).toEqual({ 'log.iostream': 'stderr', message: 'first piece', 'tidewatch.partial': true });
    expect(ok(run('cri', '2026-11-26T11:00:01+01:00 stderr P first piece')).time).toBe(Date.UTC(2026, 10, 26, 10, 0, 1));
    expect(ok(run('cri', '2026-11-26T10:00:03.5Z stderr F:x-tag  two spaces kept')).fields['message']).toBe(' two spaces kept');
    expect(ok(run('cri', '2026-11-26T10:00:02Z stdout F')).fields['message']).toBe('');
    expect(run('cri', '2026-11-26T10:00:00Z stdout X msg')).toEqual({ ok: false, reason: 'bad_tag' });
    expect(run('cri', '2026-11-26T10:00:00Z stdin F msg')).toEqual({ ok: false, reason: 'bad_stream' });
    expect(run('cri', 'Nov 26 10:00:00 stdout F msg')).toEqual({ ok: false, reason: 'bad_timestamp' });
  });

  it('docker: the json-file line; the newline goes, a line without it is a partial piece; a bad time still parses', () => {
    expect(ok(run('docker', '{"log":"panic: runtime error\\r\\n","stream":"stderr","time":"2026-11-26T10:00:00.2Z"}'))).toEqual({
      ok: true,
      fields: { 'log.iostream': 'stderr', message: 'panic: runtime error' },
      time: Date.UTC(2026, 10, 26, 10, 0, 0, 200),
    });
    expect(ok(run('docker', '{"log":"first piece","stream":"stdout","time":"2026-11-26T10:00:01Z"}')).fields).toEqual({ 'log.iostream': 'stdout', message: 'first piece', 'tidewatch.partial': true });
    expect(ok(run('docker', '{"log":"x\\n","stream":"stdout","time":"yesterday"}'))).toEqual({ ok: true, fields: { 'log.iostream': 'stdout', message: 'x' }, timeError: true });
    expect(run('docker', '{"log":"x\\n","stream":"stdout"')).toEqual({ ok: false, reason: 'not_json' });
    expect(run('docker', '{"stream":"stdout"}')).toEqual({ ok: false, reason: 'no_log' });
  });

  it("a line the agent's multiline cri / docker preset joined is one line: messages concatenated, the first piece's time and stream", () => {
    const cri = ['2026-11-26T10:00:00.5Z stdout P {"msg":"a long', '2026-11-26T10:00:00.6Z stdout P  line, cut', '2026-11-26T10:00:00.7Z stdout F  twice"}'];
    expect(ok(run('cri', cri.join('\n')))).toEqual({
      ok: true,
      fields: { 'log.iostream': 'stdout', message: '{"msg":"a long line, cut twice"}' },
      time: Date.UTC(2026, 10, 26, 10, 0, 0, 500),
    });
    // Cut short (the agent's max_lines, max_bytes or timeout): still partial.
    expect(ok(run('cri', cri.slice(0, 2).join('\n'))).fields).toEqual({ 'log.iostream': 'stdout', message: '{"msg":"a long line, cut', 'tidewatch.partial': true });
    // The agent never joins two streams or a line in another form; such input is refused, not half read.
    expect(run('cri', [cri[0], '2026-11-26T10:00:00.7Z stderr F x'].join('\n'))).toEqual({ ok: false, reason: 'mixed_streams' });
    expect(run('cri', [cri[0], 'not a cri line'].join('\n'))).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(run('cri', `${cri[2]}\n`)).toEqual({ ok: false, reason: 'bad_timestamp' });

    const docker = [
      JSON.stringify({ log: 'first ', stream: 'stderr', time: '2026-11-26T10:00:01Z' }),
      JSON.stringify({ log: 'second ', stream: 'stderr', time: 'later' }),
      JSON.stringify({ log: 'end\n', stream: 'stderr', time: '2026-11-26T10:00:03Z' }),
    ];
    expect(ok(run('docker', docker.join('\n')))).toEqual({ ok: true, fields: { 'log.iostream': 'stderr', message: 'first second end' }, time: Date.UTC(2026, 10, 26, 10, 0, 1) });
    expect(run('docker', [docker[0], '{"log":"x\\n","stream":"stdout"}'].join('\n'))).toEqual({ ok: false, reason: 'mixed_streams' });
  });
});

describe('kubernetes_path', () => {
  it('pod, namespace, container and its id from a /var/log/containers link; pod uid and restart count from a /var/log/pods file', () => {
    expect(run('kubernetes_path', '/var/log/containers/web-7d4b9c6f5-x2kq9_shop_nginx-3f2a9c1e5b7d4f608a1c2e3d4b5f6a7980c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5.log')).toEqual({
      ok: true,
      fields: {
        'k8s.pod.name': 'web-7d4b9c6f5-x2kq9',
        'k8s.namespace.name': 'shop',
        'k8s.container.name': 'nginx',
        'container.id': '3f2a9c1e5b7d4f608a1c2e3d4b5f6a7980c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5',
      },
    });
    // A container name may hold '-': the id is the last 64 hex digits.
    expect(ok(run('kubernetes_path', `/var/log/containers/p_ns_istio-proxy-${'a'.repeat(64)}.log`)).fields['k8s.container.name']).toBe('istio-proxy');
    expect(run('kubernetes_path', '/var/log/pods/kube-system_etcd-node1_6a1f2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/etcd/3.log.20261126-101500')).toEqual({
      ok: true,
      fields: {
        'k8s.namespace.name': 'kube-system',
        'k8s.pod.name': 'etcd-node1',
        'k8s.pod.uid': '6a1f2b3c-4d5e-6f70-8192-a3b4c5d6e7f8',
        'k8s.container.name': 'etcd',
        'k8s.container.restart_count': 3,
      },
    });
    expect(run('kubernetes_path', '/var/log/syslog')).toEqual({ ok: false, reason: 'not_kubernetes_path' });
  });
});

describe('klog', () => {
  const lines = fixture('klog.log');
  it('reads level, time (year inferred), thread, source location and message', () => {
    const r = ok(run('klog', lines[0]!));
    expect(r.fields).toEqual({ 'thread.id': 1, 'code.filepath': 'main.go', 'code.lineno': 42, message: 'Starting kube-scheduler v1.31.2' });
    expect(r.time).toBe(Date.UTC(2026, 10, 25, 10, 0, 0, 123) + 0.456);
    expect(r.severityNumber).toBe(9);
    expect(ok(run('klog', lines[1]!)).severityNumber).toBe(13);
    expect(ok(run('klog', lines[4]!)).severityNumber).toBe(21);
  });
  it('reads structured klog v2 messages', () => {
    const r = ok(run('klog', lines[2]!));
    expect(r.severityNumber).toBe(17);
    expect(r.fields).toMatchObject({
      message: 'Error syncing pod, skipping',
      err: 'failed to "StartContainer" for "app" with CrashLoopBackOff',
      pod: 'default/web-7d4b9c8f6-x2x9q',
    });
  });
});

describe('tracebacks', () => {
  it('java: type, message, header, frames, innermost frame, root cause', () => {
    const [first, npe, bare, suppressed] = fixture('java_traceback.log', true);
    const r = ok(run('java_traceback', first!));
    expect(r.fields).toMatchObject({
      'exception.type': 'java.lang.IllegalStateException',
      'exception.message': 'Inventory reservation failed for item 42',
      message: '2026-11-25 10:00:00,123 ERROR [http-nio-8080-exec-7] c.e.shop.OrderController - Failed to place order 991',
      'exception.frame_count': 6,
      'code.function': 'com.example.shop.inventory.InventoryService.reserve',
      'code.filepath': 'InventoryService.java',
      'code.lineno': 118,
      'exception.root_cause.type': 'org.postgresql.util.PSQLException',
      'exception.root_cause.message': 'ERROR: could not serialize access due to concurrent update',
    });
    expect(String(r.fields['exception.stacktrace'])).toMatch(/^java\.lang\.IllegalStateException[^]*\.\.\. 48 more$/);
    expect(r.severityNumber).toBe(17);
    expect(ok(run('java_traceback', npe!)).fields).toMatchObject({ 'exception.type': 'java.lang.NullPointerException', 'code.lineno': 12 });
    const b = ok(run('java_traceback', bare!));
    expect(b.fields['exception.type']).toBe('java.util.concurrent.TimeoutException');
    expect(b.fields['exception.message']).toBeUndefined();
    expect(b.fields['code.function']).toBe('java.util.concurrent.FutureTask.get');
    expect(ok(run('java_traceback', suppressed!)).fields['exception.type']).toBe('org.apache.kafka.common.errors.TimeoutException');
  });
  it('go: the panic value, the runtime error, a fatal error, a recovered handler panic (ERROR, not FATAL), the first goroutine\'s innermost frame', () => {
    const [nil, served, deadlock, recovered] = fixture('go_panic.log', true);
    const n = ok(run('go_panic', nil!));
    expect(n.fields).toMatchObject({
      'exception.type': 'runtime error',
      'exception.message': 'invalid memory address or nil pointer dereference',
      'exception.frame_count': 2,
      'code.function': 'main.(*Store).Get',
      'code.filepath': '/app/store.go',
      'code.lineno': 12,
    });
    expect(n.fields['message']).toBeUndefined();
    expect(String(n.fields['exception.stacktrace'])).toMatch(/^panic: runtime error: [^]*main\.go:9 \+0x45$/);
    expect([n.severityNumber, n.severityText]).toEqual([21, 'FATAL']);
    const h = ok(run('go_panic', served!));
    expect(h.fields).toMatchObject({
      'exception.type': 'panic',
      'exception.message': 'order 42 has no items',
      message: '2026/11/26 10:00:00',
      'exception.frame_count': 3,
      'code.function': 'net/http.(*conn).serve.func1',
      'code.lineno': 1898,
    });
    expect([h.severityNumber, h.severityText]).toEqual([17, 'ERROR']);
    expect(ok(run('go_panic', deadlock!)).fields).toMatchObject({
      'exception.type': 'fatal error',
      'exception.message': 'all goroutines are asleep - deadlock!',
      'exception.frame_count': 1,
      'code.function': 'main.main',
      'code.filepath': '/app/main.go',
    });
    expect(ok(run('go_panic', recovered!)).fields).toMatchObject({ 'exception.type': 'panic', 'exception.message': 'boom', 'code.function': 'testing.tRunner.func1.2' });
  });
  it('python: last exception raised, innermost frame, chained root cause, header', () => {
    const [pil, zero, chained, keyErr, interrupt] = fixture('python_traceback.log', true);
    const r = ok(run('python_traceback', pil!));
    expect(r.fields).toMatchObject({
      'exception.type': 'PIL.UnidentifiedImageError',
      'exception.message': "cannot identify image file '/tmp/upload-77.bin'",
      message: '2026-11-25 10:00:00,123 ERROR app.worker: job 77 failed',
      'exception.frame_count': 3,
      'code.filepath': '/usr/lib/python3/dist-packages/PIL/Image.py',
      'code.lineno': 3339,
      'code.function': 'open',
    });
    expect(ok(run('python_traceback', zero!)).fields).toMatchObject({ 'exception.type': 'ZeroDivisionError', 'code.function': '<module>' });
    expect(ok(run('python_traceback', chained!)).fields).toMatchObject({
      'exception.type': 'app.errors.DatabaseUnavailable',
      'exception.message': 'primary is down',
      'exception.root_cause.type': 'ConnectionRefusedError',
      'exception.frame_count': 2,
    });
    expect(ok(run('python_traceback', keyErr!)).fields['exception.message']).toBe("'key'");
    const ki = ok(run('python_traceback', interrupt!));
    expect(ki.fields['exception.type']).toBe('KeyboardInterrupt');
    expect(ki.fields['exception.message']).toBeUndefined();
  });
});
