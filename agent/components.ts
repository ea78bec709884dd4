/**
 * Everything the agent ships, listed explicitly (STYLE.md). Implementations load lazily: an
 * agent that only tails files never imports the OTLP or gRPC stacks.
 */
import type { ComponentEntry } from '../core/component.js';

export const components: readonly ComponentEntry[] = [
  { role: 'source', type: 'bus', load: async () => (await import('../core/sources/bus.js')).busSource },
  { role: 'source', type: 'otlp', load: async () => (await import('./sources/otlp.js')).otlpSource },
  { role: 'sink', type: 'file', load: async () => (await import('../core/sinks/file.js')).fileSink },
  { role: 'sink', type: 'bus', load: async () => (await import('../core/sinks/bus.js')).busSink },
];
