/**
 * A wrong SASL password against a real SASL/SCRAM broker (a harness broker of this file's own):
 * the agent and the collector fail to authenticate, say so, and print neither the wrong password
 * they were given nor the right one (which only the broker knows here, but a half-redacting bug
 * that echoed "expected X" would show it). The password enters through `${KAFKA_PASSWORD}`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRAM_USER, startKafka, type KafkaCluster } from '../kafka/harness.js';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));
const WRONG = 'wrong-kafka-pw-Rt5Yu7Io9';

let cluster: KafkaCluster;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-sec-sasl-'));
  cluster = await startKafka({ sasl: true });
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], until: RegExp, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, KAFKA_PASSWORD: WRONG }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const stop = (): void => void (child.exitCode === null && child.kill('SIGTERM'));
    const on = (c: Buffer): void => {
      out += c.toString();
      if (until.test(out)) stop();
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    const t = setTimeout(stop, ms);
    const k = setTimeout(() => child.kill('SIGKILL'), ms + 20_000);
    child.once('exit', () => {
      clearTimeout(t);
      clearTimeout(k);
      resolve(out);
    });
  });
}

describe('a wrong Kafka SASL password is reported without the password', () => {
  const kafkaBlock = (): string =>
    `{ type: kafka, brokers: ${JSON.stringify(cluster.bootstrap)}, connection_timeout_ms: 1000, sasl: { mechanism: scram-sha-256, username: ${SCRAM_USER.username}, password: "\${KAFKA_PASSWORD}" }`;

  it('agent (kafka sink) and collector (kafka source)', async () => {
    const agentCfg = join(dir, 'agent.yaml');
    writeFileSync(
      agentCfg,
      `data_dir: ${JSON.stringify(join(dir, 'agent'))}\nlog: { level: debug }\nsources:\n  b: { type: heartbeat, interval_ms: 200 }\nsinks:\n  k: ${kafkaBlock()}, retry_backoff_max_ms: 500 }\npipelines:\n  p: { sources: [b], sinks: [k] }\n`,
    );
    const agent = await run(['agent', '--config', agentCfg], /authentication failed[\s\S]*authentication failed/i, 30_000);
    expect(agent).toMatch(/SASL SCRAM SHA256 authentication failed|invalid credentials with SASL mechanism SCRAM-SHA-256/);

    const collectorCfg = join(dir, 'collector.yaml');
    writeFileSync(
      collectorCfg,
      `data_dir: ${JSON.stringify(join(dir, 'collector'))}\nlog: { level: debug }\nsources:\n  k: ${kafkaBlock()}, group_id: g }\nsinks:\n  f: { type: file, path: ${JSON.stringify(join(dir, 'out.jsonl'))} }\npipelines:\n  p: { sources: [k], sinks: [f] }\n`,
    );
    const collector = await run(['collector', '--config', collectorCfg], /authentication failed[\s\S]*authentication failed/i, 30_000);
    expect(collector).toMatch(/SASL SCRAM SHA256 authentication failed|invalid credentials with SASL mechanism SCRAM-SHA-256/);

    for (const out of [agent, collector]) {
      for (const s of [WRONG, SCRAM_USER.password]) {
        expect(out).not.toContain(s);
        expect(out).not.toContain(s.slice(Math.floor(s.length / 2)));
      }
    }
  });
});
