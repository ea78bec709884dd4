import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../core/config/load.js';
import { components } from '../../../collector/components.js';
import { detectAnomaliesFactory, DetectAnomalies, type DetectAnomaliesConfig } from '../../../collector/transforms/detect-anomalies.js';
import { MemoryTelemetry } from '../../../core/telemetry.js';
import { silentLogger } from '../../../core/log.js';
import type { ComponentContext } from '../../../core/component.js';
import { RULE_KINDS } from '../../../collector/rules/schema.js';

const ctx: ComponentContext = { name: 'rules', dataDir: '/nonexistent', telemetry: new MemoryTelemetry(), log: silentLogger, now: () => 0, agentId: 'a', hostName: 'h', bus: undefined };

describe('rules in YAML', () => {
  it('configs/collector-rules.yaml loads, has a rule of every kind, and builds', async () => {
    const cfg = await loadConfig('configs/collector-rules.yaml', { env: {}, components });
    const t = cfg.transforms['rules'] as unknown as DetectAnomaliesConfig & { type: string };
    expect(new Set(t.rules.map((r) => r.kind))).toEqual(new Set(RULE_KINDS));
    const built = detectAnomaliesFactory.create(t, { ...ctx, dataDir: '/tmp' }) as DetectAnomalies;
    expect(built.engine.rules).toHaveLength(t.rules.length);
    expect(cfg.sinks['pager']).toMatchObject({ type: 'webhook', format: 'alertmanager', max_retries: 5 });
  });

  it('fills defaults: a threshold rule needs only name, kind, metric and threshold', async () => {
    const cfg = await parseConfig(
      'data_dir: /tmp\nsources: { k: { type: kafka, brokers: ["127.0.0.1:9092"] } }\ntransforms:\n  r:\n    type: detect_anomalies\n    rules:\n      - { name: hot, kind: threshold, metric: temp, threshold: 80 }\nsinks: { o: { type: file, path: /tmp/x } }\npipelines: { p: { sources: [k], transforms: [r], sinks: [o] } }\n',
      'inline.yaml',
      { env: {}, components },
    );
    const r = (cfg.transforms['r'] as unknown as DetectAnomaliesConfig).rules[0]!;
    expect(r).toMatchObject({ op: '>', for_ms: 0, keep_firing_for_ms: 0, severity: 'warning', no_data_state: 'nodata', flap_max_changes: 4, matchers: [] });
    expect((cfg.transforms['r'] as unknown as DetectAnomaliesConfig).notify).toMatchObject({ group_by: ['alertname'], group_wait_ms: 30_000 });
  });

  it('rejects, at start, rules the schema cannot: a missing metric, a bad matcher, a duplicate name', () => {
    const mk = (rules: unknown[]) => () => detectAnomaliesFactory.create({ rules } as never, ctx);
    expect(mk([{ name: 'x', kind: 'threshold', threshold: 1 }])).toThrow(/TW_CONFIG_SCHEMA|needs metric/);
    expect(mk([{ name: 'x', kind: 'threshold', metric: 'm', matchers: ['a=~"("'] }])).toThrow(/invalid regex/);
    expect(mk([{ name: 'x', kind: 'rate', metric: 'm' }])).toThrow(/range_ms/);
    expect(mk([{ name: 'x', kind: 'threshold', metric: 'm' }, { name: 'x', kind: 'threshold', metric: 'n' }])).toThrow(/two rules are named x/);
    let code: string | undefined;
    try {
      mk([{ name: 'x', kind: 'ratio', numerator: { metric: 'a' } }])();
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('TW_CONFIG_SCHEMA');
  });
});
