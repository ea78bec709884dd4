/**
 * Everything the collector ships, listed explicitly (STYLE.md). Implementations load lazily.
 */
import type { ComponentEntry } from '../core/component.js';

export const components: readonly ComponentEntry[] = [
  { role: 'source', type: 'bus', load: async () => (await import('../core/sources/bus.js')).busSource },
  { role: 'source', type: 'kafka', load: async () => (await import('./sources/kafka.js')).kafkaSource },
  // The agent's self-telemetry source: a collector config can serve its own /metrics too.
  { role: 'source', type: 'internal_metrics', load: async () => (await import('../agent/sources/internal-metrics.js')).internalMetricsSource },
  // The agent's kafka sink: alerts, patterns and derived data to Kafka from the collector too.
  { role: 'sink', type: 'kafka', load: async () => (await import('../agent/sinks/kafka.js')).kafkaSink },
  { role: 'sink', type: 'file', load: async () => (await import('../core/sinks/file.js')).fileSink },
  { role: 'sink', type: 'bus', load: async () => (await import('../core/sinks/bus.js')).busSink },
  { role: 'transform', type: 'mine_templates', load: async () => (await import('./transforms/mine-templates.js')).mineTemplatesFactory },
  { role: 'transform', type: 'sniff_severity', load: async () => (await import('./transforms/sniff-severity.js')).sniffSeverityFactory },
  { role: 'transform', type: 'parse', load: async () => (await import('./transforms/parse.js')).parseFactory },
  { role: 'transform', type: 'redact', load: async () => (await import('./transforms/redact.js')).redactFactory },
  { role: 'transform', type: 'log_to_metric', load: async () => (await import('./transforms/log-to-metric.js')).logToMetricFactory },
  { role: 'transform', type: 'rollup', load: async () => (await import('./transforms/rollup.js')).rollupFactory },
  { role: 'transform', type: 'detect_anomalies', load: async () => (await import('./transforms/detect-anomalies.js')).detectAnomaliesFactory },
  { role: 'sink', type: 'alerts', load: async () => (await import('./sinks/alerts.js')).alertsSink },
  { role: 'sink', type: 'patterns', load: async () => (await import('./sinks/patterns.js')).patternsSink },
  { role: 'sink', type: 'webhook', load: async () => (await import('./sinks/webhook.js')).webhookSink },
];
