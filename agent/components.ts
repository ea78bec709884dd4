/**
 * Everything the agent ships, listed explicitly (STYLE.md). Implementations load lazily: an
 * agent that only tails files never imports the OTLP or gRPC stacks.
 */
import type { ComponentEntry } from '../core/component.js';

export const components: readonly ComponentEntry[] = [
  { role: 'source', type: 'file', load: async () => (await import('./sources/file.js')).fileSource },
  { role: 'source', type: 'bus', load: async () => (await import('../core/sources/bus.js')).busSource },
  { role: 'source', type: 'otlp', load: async () => (await import('./sources/otlp.js')).otlpSource },
  { role: 'source', type: 'heartbeat', load: async () => (await import('./heartbeat.js')).heartbeatSource },
  { role: 'source', type: 'internal_metrics', load: async () => (await import('./sources/internal-metrics.js')).internalMetricsSource },
  { role: 'source', type: 'host_metrics', load: async () => (await import('./sources/host-metrics.js')).hostMetricsSource },
  { role: 'source', type: 'prometheus_scrape', load: async () => (await import('./sources/prometheus-scrape.js')).prometheusScrapeSource },
  { role: 'sink', type: 'file', load: async () => (await import('../core/sinks/file.js')).fileSink },
  { role: 'sink', type: 'bus', load: async () => (await import('../core/sinks/bus.js')).busSink },
  { role: 'sink', type: 'kafka', load: async () => (await import('./sinks/kafka.js')).kafkaSink },
];
