/** configs/agent-otlp.yaml loads, and names every option of the components it documents. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { components } from '../../agent/components.js';
import { loadConfig } from '../../core/config/load.js';

const FILE = new URL('../../configs/agent-otlp.yaml', import.meta.url).pathname;

describe('configs/agent-otlp.yaml', () => {
  it('is a valid agent config whose values are the defaults, and mentions every option', async () => {
    const cfg = await loadConfig(FILE, { env: {}, components });
    const text = await readFile(FILE, 'utf8');
    for (const [name, type] of [['otel', 'otlp'], ['scrape', 'prometheus_scrape'], ['host', 'host_metrics'], ['self', 'internal_metrics'], ['heartbeat', 'heartbeat']] as const) {
      const entry = components.find((c) => c.role === 'source' && c.type === type);
      const factory = await entry!.load();
      for (const key of Object.keys((factory.schema as unknown as { properties: Record<string, unknown> }).properties)) {
        expect(text, `${type}.${key}`).toMatch(new RegExp(`^\\s*#?\\s*${key}:`, 'm'));
      }
      expect(cfg.sources[name]?.type).toBe(type);
    }
    expect(cfg.sources['otel']).toMatchObject({ http_endpoint: '127.0.0.1:4318', grpc_endpoint: '127.0.0.1:4317', max_body_bytes: 4194304, max_in_flight: 16 });
  });
});
