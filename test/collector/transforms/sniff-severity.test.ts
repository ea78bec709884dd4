import { describe, expect, it } from 'vitest';
import { SniffSeverity, sniffSeverity, sniffSeverityFactory } from '../../../collector/transforms/sniff-severity.js';
import type { ComponentContext } from '../../../core/component.js';
import { silentLogger } from '../../../core/log.js';
import type { Event, LogRecord } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';

function ctx(telemetry = new MemoryTelemetry()): ComponentContext {
  return { name: 'sniff', dataDir: '/nonexistent', telemetry, log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };
}

function log(body: string, severity_number = 0, severity_text = ''): LogRecord {
  return { kind: 'log', observed_time: 1000, severity_number, severity_text, body, attributes: {}, resource: {} };
}

describe('sniffSeverity', () => {
  it.each([
    ['2026-11-25T10:00:00Z ERROR [checkout] payment failed', 'ERROR'],
    ['2026-11-25T10:00:00Z WARN  cache miss ratio high', 'WARN'],
    ['2026-11-25T10:00:00Z INFO  order placed', 'INFO'],
    ['2026-11-25T10:00:00Z DEBUG sql took 3ms', 'DEBUG'],
    ['I said WARNING: disk at 91%', 'WARN'],
    ['level=error msg="db down"', 'ERROR'],
    ['time=1 level=Warn msg=slow', 'WARN'],
    ['{"level":"info","msg":"ok"}', 'INFO'],
    ['{"severity": "CRITICAL", "msg": "boom"}', 'FATAL'],
    ['2026/11/25 10:00:00 [error] 12#12: *1 connect() failed', 'ERROR'],
    ['<warn> something', 'WARN'],
    ['FATAL out of memory', 'FATAL'],
    ['10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /api/cart HTTP/1.1" 503 12 "-" "curl/8"', 'ERROR'],
    ['10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "POST /login HTTP/2.0" 404 0 "-" "Mozilla/5.0"', 'WARN'],
    ['10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0"', 'INFO'],
    ['10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /r HTTP/1.1" 301 0 "-" "x"', 'INFO'],
  ])('%s → %s', (body, text) => {
    expect(sniffSeverity(body)?.text).toBe(text);
  });

  it.each([['no error found in the report'], ['user warned about quota'], ['hello world'], ['']])('leaves %j unguessed', (body) => {
    expect(sniffSeverity(body)).toBeUndefined();
  });

  it('prefers an explicit level over the HTTP status', () => {
    expect(sniffSeverity('level=info "GET / HTTP/1.1" 500 1 ')?.text).toBe('INFO');
  });

  it('looks only at the first max_scan_chars characters', () => {
    const body = `${'x'.repeat(600)} ERROR late`;
    expect(sniffSeverity(body, 512)).toBeUndefined();
    expect(sniffSeverity(body, 1024)?.text).toBe('ERROR');
  });

  it('maps to OpenTelemetry severity numbers', () => {
    expect(sniffSeverity('ERROR x')?.number).toBe(17);
    expect(sniffSeverity('WARN x')?.number).toBe(13);
    expect(sniffSeverity('INFO x')?.number).toBe(9);
    expect(sniffSeverity('DEBUG x')?.number).toBe(5);
    expect(sniffSeverity('TRACE x')?.number).toBe(1);
    expect(sniffSeverity('FATAL x')?.number).toBe(21);
  });
});

describe('sniff_severity transform', () => {
  it('sets severity on records without one, copies instead of mutating, and keeps set ones', () => {
    const telemetry = new MemoryTelemetry();
    const t = new SniffSeverity({}, ctx(telemetry));
    const unset = log('ERROR boom');
    const set = log('ERROR boom', 9, 'INFO');
    const unknown = log('plain text');
    const metric: Event = { kind: 'metric', type: 'gauge', name: 'g', time: 1, value: 1, attributes: {}, resource: {} };
    const out = t.process([unset, set, unknown, metric], 0);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatchObject({ severity_number: 17, severity_text: 'ERROR', body: 'ERROR boom' });
    expect(unset.severity_number).toBe(0);
    expect(out[1]).toBe(set);
    expect(out[2]).toBe(unknown);
    expect(out[3]).toBe(metric);
    expect(telemetry.value('tidewatch_sniff_severity_total', { component: 'sniff', result: 'guessed' })).toBe(1);
    expect(telemetry.value('tidewatch_sniff_severity_total', { component: 'sniff', result: 'unknown' })).toBe(1);
  });

  it('passes non-string bodies through', () => {
    const t = new SniffSeverity({}, ctx());
    const rec: LogRecord = { ...log(''), body: { msg: 'ERROR' } };
    expect(t.process([rec], 0)[0]).toBe(rec);
  });

  it('is registered under its YAML type', () => {
    expect(sniffSeverityFactory.type).toBe('sniff_severity');
    expect(sniffSeverityFactory.role).toBe('transform');
  });
});
