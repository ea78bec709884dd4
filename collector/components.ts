/**
 * Everything the collector ships, listed explicitly (STYLE.md). Implementations load lazily.
 */
import type { ComponentEntry } from '../core/component.js';

export const components: readonly ComponentEntry[] = [
  { role: 'source', type: 'bus', load: async () => (await import('../core/sources/bus.js')).busSource },
  { role: 'sink', type: 'file', load: async () => (await import('../core/sinks/file.js')).fileSink },
  { role: 'sink', type: 'bus', load: async () => (await import('../core/sinks/bus.js')).busSink },
  { role: 'transform', type: 'sniff_severity', load: async () => (await import('./transforms/sniff-severity.js')).sniffSeverityFactory },
  { role: 'transform', type: 'rollup', load: async () => (await import('./transforms/rollup.js')).rollupFactory },
];
