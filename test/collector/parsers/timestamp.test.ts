import { describe, expect, it } from 'vitest';
import { compileTimestamp, parseEpoch, parseIso, zone } from '../../../collector/parsers/timestamp.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

describe('timestamps', () => {
  it.each([
    ['rfc3339', '2026-11-25T10:00:00Z', Date.UTC(2026, 10, 25, 10)],
    ['rfc3339', '2026-11-25T10:00:00.123+02:00', Date.UTC(2026, 10, 25, 8, 0, 0, 123)],
    ['rfc3339', '2026-11-25t10:00:00.5-0130', Date.UTC(2026, 10, 25, 11, 30, 0, 500)],
    ['rfc3339', '2026-11-25 10:00', Date.UTC(2026, 10, 25, 10)],
    ['rfc3339', '2026-11-25', Date.UTC(2026, 10, 25)],
    ['java', '2026-11-25 10:00:00,123', Date.UTC(2026, 10, 25, 10, 0, 0, 123)],
    ['java', '2026-11-25 10:00:00,123 +0100', Date.UTC(2026, 10, 25, 9, 0, 0, 123)],
    ['epoch', '1795600800', 1_795_600_800_000],
    ['epoch', '1795600800.25', 1_795_600_800_250],
    ['epoch', '1795600800123', 1_795_600_800_123],
    ['epoch', '1795600800123456', 1_795_600_800_123.456],
    ['epoch', '1795600800123456789', 1_795_600_800_123.4568],
    ['epoch_ms', '1795600800', 1_795_600_800],
    ['apache', '10/Oct/2000:13:55:36 -0700', Date.UTC(2000, 9, 10, 20, 55, 36)],
    ['syslog', 'Oct 11 22:14:15', Date.UTC(2026, 9, 11, 22, 14, 15)],
    ['syslog', 'Nov  5 01:02:03', Date.UTC(2026, 10, 5, 1, 2, 3)],
    ['klog', 'I1125 10:00:00.123456', Date.UTC(2026, 10, 25, 10, 0, 0, 123) + 0.456],
    ['klog', '1125 10:00:00', Date.UTC(2026, 10, 25, 10)],
    ['%d/%m/%Y %H:%M:%S', '25/11/2026 10:00:01', Date.UTC(2026, 10, 25, 10, 0, 1)],
    ['%Y%m%d %T.%f %z', '20261125 10:00:01.25 +0100', Date.UTC(2026, 10, 25, 9, 0, 1, 250)],
    ['%a, %d %b %Y %H:%M:%S %Z', 'Wed, 25 Nov 2026 10:00:00 GMT', Date.UTC(2026, 10, 25, 10)],
    ['%b %e %I:%M:%S %p', 'Nov  5 01:02:03 pm', Date.UTC(2026, 10, 5, 13, 2, 3)],
    ['%s', '1795600800', 1_795_600_800_000],
  ])('%s reads %s', (format, text, want) => {
    const t = compileTimestamp([format])(text, NOW);
    expect(t).toBeCloseTo(want, 3);
  });

  it.each([
    ['rfc3339', '2026-02-30T10:00:00Z'],
    ['rfc3339', '2026-11-25T25:00:00Z'],
    ['rfc3339', '2026-11-25T10:00:00+25:00'],
    ['rfc3339', '2026-11-25T10:00:00Zjunk'],
    ['rfc3339', 'yesterday'],
    ['epoch', '12abc'],
    ['epoch', '-5'],
    ['epoch', '99999999999999999999999'],
    ['apache', '10/Foo/2000:13:55:36 -0700'],
    ['syslog', 'Oct 32 22:14:15'],
    ['%Y-%m-%d', '2026-11'],
  ])('%s refuses %s', (format, text) => {
    expect(compileTimestamp([format])(text, NOW)).toBeUndefined();
  });

  it('tries formats in order and trims', () => {
    const p = compileTimestamp(['rfc3339', 'epoch']);
    expect(p('  1795600800 ', NOW)).toBe(1_795_600_800_000);
    expect(p(1_795_600_800_000, NOW)).toBe(1_795_600_800_000);
  });

  it('reads zone-less times in the configured zone, across a DST change', () => {
    const berlin = compileTimestamp(['rfc3339'], 'Europe/Berlin');
    expect(berlin('2026-07-01 12:00:00', NOW)).toBe(Date.UTC(2026, 6, 1, 10));
    expect(berlin('2026-12-01 12:00:00', NOW)).toBe(Date.UTC(2026, 11, 1, 11));
    expect(compileTimestamp(['rfc3339'], '+05:30')('2026-11-25 10:00', NOW)).toBe(Date.UTC(2026, 10, 25, 4, 30));
    // An explicit offset wins over the configured zone.
    expect(berlin('2026-07-01T12:00:00Z', NOW)).toBe(Date.UTC(2026, 6, 1, 12));
  });

  it('rejects unknown zones and formats at compile time', () => {
    expect(() => zone('Mars/Olympus')).toThrow(/unknown time zone/);
    expect(() => compileTimestamp(['yyyy-mm-dd'])).toThrow(/unknown time format/);
    expect(() => compileTimestamp(['%Q'])).toThrow(/unsupported directive/);
  });

  it('years before 100 are not shifted by Date.UTC', () => {
    expect(new Date(parseIso('0042-01-02T00:00:00Z')!).toISOString()).toBe('0042-01-02T00:00:00.000Z');
  });

  it('epoch units', () => {
    expect(parseEpoch('1795600800123456', 'us')).toBeCloseTo(1_795_600_800_123.456, 3);
    expect(parseEpoch(1_795_600_800, 's')).toBe(1_795_600_800_000);
  });

  it('regression: month names from input never reach Object.prototype', () => {
    expect(compileTimestamp(['%b %d %Y'])('constructor 01 2026', NOW)).toBeUndefined();
  });
});
