/**
 * Global setup of the vitest `kafka-cluster` project: a 3-broker cluster (each node broker and
 * KRaft controller) started once per run, for failover tests. Tests run in worker processes and
 * cannot hold the cluster object, so a small HTTP control endpoint on loopback lets them kill,
 * pause, resume and restart brokers (clusterControl() in test/kafka/harness.ts wraps it).
 * `inject('kafkaCluster')` gives { bootstrap, brokers, controlUrl }.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startKafka } from '../../scripts/kafka/index.mjs';
import type { KafkaCluster } from '../../scripts/kafka/index.mjs';

export interface ProvidedCluster {
  bootstrap: string[];
  brokers: { id: number; port: number }[];
  /** Base URL of the control endpoint (POST /kill/:id?signal=, /pause/:id, /resume/:id, /restart/:id; GET /brokers). */
  controlUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaCluster: ProvidedCluster;
  }
}

async function control(cluster: KafkaCluster, req: http.IncomingMessage): Promise<unknown> {
  const url = new URL(req.url ?? '/', 'http://x');
  const [, action, idText] = url.pathname.split('/');
  if (req.method === 'GET' && action === 'brokers') return cluster.brokers;
  const id = Number(idText);
  if (req.method !== 'POST' || !cluster.brokers.some((b) => b.id === id)) throw new Error(`bad control request ${req.method} ${url.pathname}`);
  switch (action) {
    case 'kill':
      await cluster.kill(id, (url.searchParams.get('signal') ?? 'SIGKILL') as NodeJS.Signals);
      break;
    case 'pause':
      cluster.pause(id);
      break;
    case 'resume':
      cluster.resume(id);
      break;
    case 'restart':
      await cluster.restart(id);
      break;
    default:
      throw new Error(`unknown control action ${action}`);
  }
  return cluster.brokers;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startKafka({ brokers: 3, log: (line) => console.log(`[kafka-cluster] ${line}`) });
  const server = http.createServer((req, res) => {
    control(cluster, req).then(
      (body) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      (e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(e instanceof Error ? e.message : String(e));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  project.provide('kafkaCluster', {
    bootstrap: cluster.bootstrap,
    brokers: cluster.brokers.map((b) => ({ id: b.id, port: b.port })),
    controlUrl: `http://127.0.0.1:${port}`,
  });
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await cluster.stop();
  };
}
