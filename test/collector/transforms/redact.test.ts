import { describe, expect, it } from 'vitest';
import type { ComponentContext } from '../../../core/component.js';
import type { LogRecord } from '../../../core/model.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { silentLogger } from '../../../core/log.js';
import { checkValue } from '../../../core/config/check.js';
import { components } from '../../../collector/components.js';
import { Redact, schema, type RedactConfig } from '../../../collector/transforms/redact.js';

function ctx(): ComponentContext & { telemetry: MemoryTelemetry } {
  return { name: 'r', dataDir: '/tmp', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };
}

function build(config: unknown = {}): { t: Redact; c: ReturnType<typeof ctx> } {
  const { value, issues } = checkValue(schema, config);
  expect(issues).toEqual([]);
  const c = ctx();
  return { t: new Redact(value as RedactConfig, c), c };
}

function log(body: LogRecord['body'], attributes: LogRecord['attributes'] = {}): LogRecord {
  return { kind: 'log', observed_time: 0, severity_number: 0, severity_text: '', body, attributes, resource: {} };
}

describe('redact transform', () => {
  it('is registered in the collector', async () => {
    expect((await components.find((e) => e.type === 'redact')!.load()).type).toBe('redact');
  });

  it('redacts the body and attribute values, nested ones too, and counts by rule', () => {
    const { t, c } = build();
    const rec = log('login alice@example.com from 203.0.113.7 password=hunter2', {
      'client.address': '203.0.113.7',
      'user.email': 'alice@example.com',
      'http.request.header.authorization': 'Basic YWxpY2U6aHVudGVy',
      db_password: 'pw',
      tags: ['ok', 'card 4111 1111 1111 1111'],
      nested: { contact: 'bob@example.org' },
      'tidewatch.offset': 12,
      'log.file.path': '/var/log/app.log',
    });
    const [out] = t.process([rec], 0) as LogRecord[];
    expect(out!.body).toBe('login [REDACTED:email] from [REDACTED:ipv4] password=[REDACTED:password]');
    expect(out!.attributes).toEqual({
      'client.address': '[REDACTED:ipv4]',
      'user.email': '[REDACTED:email]',
      'http.request.header.authorization': '[REDACTED:sensitive_key]',
      db_password: '[REDACTED:sensitive_key]',
      tags: ['ok', 'card [REDACTED:credit_card]'],
      nested: { contact: '[REDACTED:email]' },
      'tidewatch.offset': 12,
      'log.file.path': '/var/log/app.log',
    });
    // The input record is untouched.
    expect(rec.attributes['user.email']).toBe('alice@example.com');
    expect(c.telemetry.value('tidewatch_redactions_total', { component: 'r', rule: 'email' })).toBe(3);
    expect(c.telemetry.value('tidewatch_redactions_total', { component: 'r', rule: 'sensitive_key' })).toBe(2);
  });

  it('passes clean records as the same object', () => {
    const { t } = build();
    const rec = log('GET /index.html 200', { 'http.response.status_code': 200 });
    expect(t.process([rec], 0)[0]).toBe(rec);
  });

  it('honours rules, custom patterns, replacement, attributes: false and skip_keys', () => {
    const { t } = build({
      rules: ['email'],
      custom: [{ name: 'customer_id', pattern: 'CUST-\\d+' }],
      replacement: '<{rule}>',
      attributes: false,
    });
    const [out] = t.process([log('CUST-42 a@b.io 10.0.0.1', { mail: 'a@b.io' })], 0) as LogRecord[];
    expect(out!.body).toBe('<customer_id> <email> 10.0.0.1');
    expect(out!.attributes['mail']).toBe('a@b.io');
    const { t: t2 } = build({ skip_keys: ['client.*'] });
    const [o2] = t2.process([log('x', { 'client.address': '10.0.0.1', server: '10.0.0.2' })], 0) as LogRecord[];
    expect(o2!.attributes).toEqual({ 'client.address': '10.0.0.1', server: '[REDACTED:ipv4]' });
  });

  it('refuses unsafe custom patterns at create time', () => {
    const { value } = checkValue(schema, { custom: [{ name: 'x', pattern: '(\\w+\\s?)*$' }] });
    expect(() => new Redact(value as RedactConfig, ctx())).toThrow(/unsafe/);
  });
});
