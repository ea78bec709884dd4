// Starts and controls real Apache Kafka nodes (KRaft, combined broker+controller) for tests,
// benchmarks and `npm run kafka`. One node is one `java ... kafka.Kafka server.properties`.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientProtocol, log4j2Properties, serverProperties } from './config.mjs';
import { kafkaCacheDir, resolveKafka, run } from './resolve.mjs';
import { ensureTls } from './tls.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * JVM options of a broker. quickStart (the default) trades peak speed for start-up CPU: the C1
 * JIT only and the serial collector took ~35% less CPU to reach "ready" (3.0-3.3 s against
 * 4.5-5.3 s of CPU, 2 cores under load), which is what a test run on a shared 2-core machine
 * waits for. Throughput benchmarks pass quickStart: false for the usual tiered JIT and G1.
 * KAFKA_JVM_OPTS (space-separated) replaces both.
 * @param {boolean} quickStart
 */
function jvmOpts(quickStart) {
  if (process.env.KAFKA_JVM_OPTS?.trim()) return process.env.KAFKA_JVM_OPTS.trim().split(/\s+/);
  const heap = ['-Xms256m', '-Xmx512m', '-XX:+ExitOnOutOfMemoryError'];
  return quickStart ? [...heap, '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'] : [...heap, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20'];
}

/** The SCRAM user every SASL harness cluster has (test credentials, not a secret). */
export const SCRAM_USER = Object.freeze({ username: 'tidewatch', password: 'tidewatch-secret' });

/**
 * @typedef {object} StartOptions
 * @property {number} [brokers]        number of nodes, each broker+controller (default 1; 3 for failover)
 * @property {boolean} [sasl]          SASL/SCRAM (SHA-256 and SHA-512) on the client listener; user SCRAM_USER
 * @property {boolean} [tls]           TLS on the client listener, with a keytool-made test CA
 * @property {string} [dir]            working directory (configs, data, logs); default a fresh one under
 *                                     the cache dir, deleted by stop(). A given dir is kept.
 * @property {number} [port]           client port of node 1 (default: free loopback ports for every listener)
 * @property {string} [version]        Kafka version (default KAFKA_VERSION or the pinned one)
 * @property {boolean} [foreground]    show the brokers' warnings on this process's stdout/stderr
 * @property {boolean} [quickStart]    C1-only JIT and serial GC: less CPU to start, slower under
 *                                     sustained load (default true; false for throughput benchmarks)
 * @property {number} [startTimeoutMs] how long to wait for the cluster to answer (default 120 s)
 * @property {(line: string) => void} [log]  progress lines (default: none)
 */

/**
 * @typedef {object} BrokerInfo
 * @property {number} id        node.id, 1..n
 * @property {number} port      client port on 127.0.0.1
 * @property {number} pid       pid of the current (or last) java process
 * @property {boolean} running  false after kill()/stop() until restart()
 */

/**
 * @typedef {object} KafkaClientSettings  what a kafkajs `new Kafka({...})` needs to connect
 * @property {string[]} brokers
 * @property {{ ca: string[], servername?: string } | undefined} ssl
 * @property {{ mechanism: 'scram-sha-256', username: string, password: string } | undefined} sasl
 */

/**
 * @typedef {object} KafkaCluster
 * @property {string} version
 * @property {string} dir
 * @property {string[]} bootstrap          "127.0.0.1:port" of every node
 * @property {BrokerInfo[]} brokers        live view: pid/running change on kill/restart
 * @property {KafkaClientSettings} client  connection settings, security included
 * @property {{ resolveMs: number, startMs: number, jarsCached: boolean }} timings
 * @property {(id: number, signal?: NodeJS.Signals) => Promise<void>} kill
 *   sends `signal` (default SIGKILL) to node `id`; for SIGKILL/SIGTERM/SIGINT waits until it exited
 * @property {(id: number) => void} pause     SIGSTOP: the node hangs with its sockets open
 * @property {(id: number) => void} resume    SIGCONT
 * @property {(id: number) => Promise<void>} restart
 *   stops node `id` if it runs (SIGTERM, then SIGKILL), starts it on the same ports and data, and
 *   resolves when the cluster lists it again
 * @property {() => Promise<void>} stop      idempotent: SIGTERM every node, SIGKILL after a grace period
 */

/**
 * Free loopback ports, held open together so they are distinct, then released for Kafka.
 * @param {number} count
 * @returns {Promise<number[]>}
 */
export async function freePorts(count) {
  /** @type {net.Server[]} */
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer();
      await new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(undefined));
      });
      servers.push(s);
    }
    return servers.map((s) => /** @type {net.AddressInfo} */ (s.address()).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  }
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes run dirs left by harness processes that died without stopping. */
function sweepStaleRuns() {
  const runs = path.join(kafkaCacheDir(), 'run');
  if (!existsSync(runs)) return;
  for (const name of readdirSync(runs)) {
    const owner = Number(name.split('-')[0]);
    if (owner > 0 && owner !== process.pid && !alive(owner)) rmSync(path.join(runs, name), { recursive: true, force: true });
  }
}

let runCounter = 0;

/**
 * Starts a Kafka cluster of `brokers` combined broker+controller nodes on loopback and resolves
 * when a kafkajs admin sees every broker. The caller owns the cluster and must stop() it; the
 * processes are also killed if this process exits (exit hook) or dies (a watchdog process).
 * @param {StartOptions} [options]
 * @returns {Promise<KafkaCluster>}
 */
export async function startKafka(options = {}) {
  const started = Date.now();
  const n = options.brokers ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`brokers must be a positive integer, got ${n}`);
  const log = options.log ?? (() => {});
  const resolved = await resolveKafka({ log, ...(options.version ? { version: options.version } : {}) });
  const tls = options.tls ? await ensureTls({ log }) : null;
  const sasl = options.sasl === true;

  sweepStaleRuns();
  const ownDir = !options.dir;
  const dir = options.dir ? path.resolve(options.dir) : path.join(kafkaCacheDir(), 'run', `${process.pid}-${Date.now()}-${runCounter++}`);
  await mkdir(dir, { recursive: true });

  const ports = await freePorts(n * 3);
  if (options.port) ports[0] = options.port;
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    client: /** @type {number} */ (ports[i * 3]),
    internal: /** @type {number} */ (ports[i * 3 + 1]),
    controller: /** @type {number} */ (ports[i * 3 + 2]),
  }));
  if (options.port) await assertPortFree(options.port);

  const security = { sasl, tls: tls ? { keystore: tls.keystore, truststore: tls.truststore, password: tls.password } : null };
  const jvmCommon = ['-cp', resolved.classpath, '-Djava.awt.headless=true'];
  // The storage tool runs for a second: no point in paying for the optimising JIT.
  const toolJvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...jvmCommon];
  const nodeDir = (/** @type {number} */ id) => path.join(dir, `node-${id}`);
  for (const node of nodes) {
    const d = nodeDir(node.id);
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'server.properties'), serverProperties({ node, nodes, logDir: path.join(d, 'data'), security }));
    await writeFile(path.join(d, 'log4j2.properties'), log4j2Properties(path.join(d, 'server.log')));
  }

  // A data dir formatted by an earlier run (a kept `dir`) is reused as is: its cluster id and
  // users are in its meta.properties and metadata log.
  const formatted = nodes.every((node) => existsSync(path.join(nodeDir(node.id), 'data', 'meta.properties')));
  if (!formatted) {
    const clusterId = (await run('java', [...toolJvm, 'kafka.tools.StorageTool', 'random-uuid'])).trim();
    const scram = sasl
      ? ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${SCRAM_USER.username},password=${SCRAM_USER.password}]`])
      : [];
    await Promise.all(nodes.map((node) => run('java', [
      ...toolJvm, `-Dlog4j2.configurationFile=${path.join(nodeDir(node.id), 'log4j2.properties')}`,
      'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', path.join(nodeDir(node.id), 'server.properties'), ...scram,
    ])));
  }

  /** @type {Map<number, import('node:child_process').ChildProcess>} */
  const procs = new Map();
  /** @type {BrokerInfo[]} */
  const brokers = nodes.map((node) => ({ id: node.id, port: node.client, pid: 0, running: false }));
  // Named per start: a kept dir is reused by the next start, and the watchdog of a finished
  // run must never find (and kill) the pids of a later one.
  const pidsFile = path.join(dir, `pids-${process.pid}-${Date.now()}`);
  const writePids = () => writeFile(pidsFile, brokers.filter((b) => b.running).map((b) => b.pid).join('\n') + '\n');

  /** @param {number} id */
  const spawnNode = (id) => {
    const d = nodeDir(id);
    const out = options.foreground ? 'inherit' : openSync(path.join(d, 'stdout.log'), 'a');
    const child = spawn('java', [
      ...jvmOpts(options.quickStart ?? true),
      `-Dlog4j2.configurationFile=${path.join(d, 'log4j2.properties')}`,
      ...jvmCommon, 'kafka.Kafka', path.join(d, 'server.properties'),
    ], { stdio: ['ignore', out, out] });
    if (typeof out === 'number') closeSync(out);
    const b = /** @type {BrokerInfo} */ (brokers.find((x) => x.id === id));
    b.pid = child.pid ?? 0;
    b.running = true;
    procs.set(id, child);
    child.on('exit', () => {
      if (procs.get(id) === child) {
        b.running = false;
        procs.delete(id);
      }
    });
    return child;
  };

  const killAll = () => {
    for (const child of procs.values()) {
      try {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killAll);

  for (const node of nodes) spawnNode(node.id);
  await writePids();
  // Detached and unref'd: it must outlive a SIGKILLed parent, and must not keep it alive.
  const watchdog = spawn(process.execPath, [path.join(HERE, 'watchdog.mjs'), String(process.pid), pidsFile], { detached: true, stdio: 'ignore' });
  watchdog.unref();

  const bootstrap = nodes.map((node) => `127.0.0.1:${node.client}`);
  /** @type {KafkaClientSettings} */
  const client = {
    brokers: bootstrap,
    ssl: tls ? { ca: [tls.caPem], servername: 'localhost' } : undefined,
    sasl: sasl ? { mechanism: 'scram-sha-256', username: SCRAM_USER.username, password: SCRAM_USER.password } : undefined,
  };

  let stopped = false;
  /**
   * @param {number} id
   * @param {number} graceMs
   */
  const stopNode = async (id, graceMs) => {
    const child = procs.get(id);
    if (!child) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT'); // a paused node cannot act on SIGTERM
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  /** @type {KafkaCluster} */
  const cluster = {
    version: resolved.version,
    dir,
    bootstrap,
    brokers,
    client,
    timings: { resolveMs: resolved.ms, startMs: 0, jarsCached: resolved.cached },
    async kill(id, signal = 'SIGKILL') {
      const child = procs.get(id);
      if (!child) throw new Error(`kafka node ${id} is not running`);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await exited;
    },
    pause(id) {
      const child = procs.get(id);
      if (!child) throw new Error(`kafka node ${id} is not running`);
      child.kill('SIGSTOP');
    },
    resume(id) {
      procs.get(id)?.kill('SIGCONT');
    },
    async restart(id) {
      if (!brokers.some((b) => b.id === id)) throw new Error(`no kafka node ${id}`);
      await stopNode(id, 10_000);
      const child = spawnNode(id);
      await writePids();
      await waitReady({ client, expect: [id], procs: new Map([[id, child]]), timeoutMs: options.startTimeoutMs ?? 120_000, dir: nodeDir });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([...procs.keys()].map((id) => stopNode(id, 5_000)));
      process.off('exit', killAll);
      await rm(pidsFile, { force: true });
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitReady({ client, expect: nodes.map((x) => x.id), procs: new Map(procs), timeoutMs: options.startTimeoutMs ?? 120_000, dir: nodeDir });
  } catch (e) {
    // Keep the logs of a failed start for diagnosis: the run dir is left behind.
    await Promise.all([...procs.keys()].map((id) => stopNode(id, 2_000)));
    process.off('exit', killAll);
    await rm(pidsFile, { force: true });
    throw e;
  }
  cluster.timings.startMs = Date.now() - started;
  log(`kafka ${resolved.version}: ${n} node(s) ready at ${bootstrap.join(',')} (${clientProtocol({ sasl, tls: !!tls })}) in ${(cluster.timings.startMs / 1000).toFixed(1)} s`);
  return cluster;
}

/** @param {number} port */
async function assertPortFree(port) {
  await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', () => reject(new Error(`port 127.0.0.1:${port} is in use (is another Kafka running? set KAFKA_PORT)`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(undefined)));
  });
}

/**
 * Polls a kafkajs admin until describeCluster lists every id in `expect`. Fails early, with the
 * tail of its log, if a node process exits meanwhile.
 * @param {{ client: KafkaClientSettings, expect: number[], procs: Map<number, import('node:child_process').ChildProcess>,
 *   timeoutMs: number, dir: (id: number) => string }} p
 */
async function waitReady(p) {
  const { Kafka, logLevel } = await import('kafkajs');
  const deadline = Date.now() + p.timeoutMs;
  /** @type {string} */
  let lastError = 'no answer yet';
  for (;;) {
    for (const [id, child] of p.procs) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`kafka node ${id} exited (${child.exitCode ?? child.signalCode}) while starting:\n${await tail(p.dir(id))}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`kafka not ready after ${p.timeoutMs} ms: ${lastError}\n${await tail(p.dir(/** @type {number} */ (p.expect[0])))}`);
    const kafka = new Kafka({
      clientId: 'tidewatch-harness',
      brokers: p.client.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 0 },
      ...(p.client.ssl ? { ssl: p.client.ssl } : {}),
      ...(p.client.sasl ? { sasl: p.client.sasl } : {}),
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const info = await admin.describeCluster();
      const ids = new Set(info.brokers.map((b) => b.nodeId));
      if (p.expect.every((id) => ids.has(id)) && info.controller !== null && info.controller >= 0) return;
      lastError = `cluster lists brokers [${[...ids].join(',')}], waiting for [${p.expect.join(',')}]`;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** @param {string} nodeDir */
async function tail(nodeDir) {
  const parts = [];
  for (const f of ['stdout.log', 'server.log']) {
    const text = await readFile(path.join(nodeDir, f), 'utf8').catch(() => '');
    if (text) parts.push(`--- ${path.join(nodeDir, f)} (tail)\n${text.split('\n').slice(-25).join('\n')}`);
  }
  return parts.join('\n') || `(no logs in ${nodeDir})`;
}

