// Types of scripts/kafka/index.mjs for TypeScript callers (tests, bench). Keep in step with the
// JSDoc in harness.mjs, resolve.mjs and tls.mjs.

export interface StartOptions {
  /** Number of nodes, each broker+controller (default 1; 3 for failover tests). */
  brokers?: number;
  /** SASL/SCRAM (SHA-256 and SHA-512) on the client listener, user SCRAM_USER. */
  sasl?: boolean;
  /** TLS on the client listener, certificate signed by a keytool-made test CA. */
  tls?: boolean;
  /** Working directory (configs, data, logs). Default: a fresh one under the cache dir, deleted by stop(). */
  dir?: string;
  /** Client port of node 1. Default: free loopback ports for every listener. */
  port?: number;
  /** Kafka version; default KAFKA_VERSION or DEFAULT_KAFKA_VERSION. */
  version?: string;
  /** Show the brokers' warnings on this process's stdout/stderr. */
  foreground?: boolean;
  /** C1-only JIT and serial GC: ~35% less CPU to start, slower under sustained load (default true; false for throughput benchmarks). */
  quickStart?: boolean;
  /** How long to wait for the cluster to answer (default 120 000). */
  startTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface BrokerInfo {
  /** node.id, 1..n */
  id: number;
  /** client port on 127.0.0.1 */
  port: number;
  /** pid of the current (or last) java process */
  pid: number;
  /** false after kill()/stop() until restart() */
  running: boolean;
}

/** What a kafkajs `new Kafka({ ...client })` needs to connect, security included. */
export interface KafkaClientSettings {
  brokers: string[];
  ssl: { ca: string[]; servername?: string } | undefined;
  sasl: { mechanism: 'scram-sha-256'; username: string; password: string } | undefined;
}

export interface KafkaCluster {
  version: string;
  dir: string;
  /** "127.0.0.1:port" of every node */
  bootstrap: string[];
  /** Live view: pid/running change on kill/restart. */
  brokers: BrokerInfo[];
  client: KafkaClientSettings;
  timings: { resolveMs: number; startMs: number; jarsCached: boolean };
  /** Sends `signal` (default SIGKILL) to node `id`; for SIGKILL/SIGTERM/SIGINT waits until it exited. */
  kill(id: number, signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the node hangs with its sockets open. */
  pause(id: number): void;
  /** SIGCONT */
  resume(id: number): void;
  /** Stops node `id` if running, starts it on the same ports and data; resolves when the cluster lists it again. */
  restart(id: number): Promise<void>;
  /** Idempotent: SIGTERM every node, SIGKILL after a grace period; deletes a default dir. */
  stop(): Promise<void>;
}

export declare const SCRAM_USER: Readonly<{ username: string; password: string }>;
export declare function startKafka(options?: StartOptions): Promise<KafkaCluster>;
export declare function freePorts(count: number): Promise<number[]>;

export interface ResolvedKafka {
  version: string;
  libDir: string;
  classpath: string;
  cached: boolean;
  ms: number;
}
export declare const DEFAULT_KAFKA_VERSION: string;
export declare function kafkaCacheDir(): string;
export declare function kafkaVersion(): string;
export declare function resolveKafka(options?: { version?: string; log?: (line: string) => void }): Promise<ResolvedKafka>;

export interface TlsMaterial {
  keystore: string;
  truststore: string;
  password: string;
  caPem: string;
  caFile: string;
}
export declare const TLS_PASSWORD: string;
export declare function ensureTls(options?: { log?: (line: string) => void }): Promise<TlsMaterial>;
