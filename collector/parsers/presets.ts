/**
 * The named presets of the `parse` transform, each a pure core with the same call shape:
 * `(line, now, zone) -> ParseResult`. `now` is only used to infer a missing year.
 */
import { parseAccess } from './access.js';
import { parseCri, parseDocker, parseKubernetesPath } from './container.js';
import { parseKlog } from './klog.js';
import type { Fields, ParseResult } from './result.js';
import { parseSyslog3164, parseSyslog5424 } from './syslog.js';
import type { Zone } from './timestamp.js';
import { parseGoPanic, parseJavaTraceback, parsePythonTraceback } from './traceback.js';

export const PRESETS = [
  'nginx_combined',
  'apache_combined',
  'clf',
  'syslog_rfc3164',
  'syslog_rfc5424',
  'klog',
  'cri',
  'docker',
  'kubernetes_path',
  'java_traceback',
  'python_traceback',
  'go_panic',
] as const;
export type PresetName = (typeof PRESETS)[number];

/** `into`: where a preset that supports it writes its fields, only on success (access logs). */
export type PresetParser = (input: string | Buffer, now: number, zone?: Zone, into?: Fields) => ParseResult;

/** Presets that write into the caller's map (and leave it untouched on failure). */
export const WRITES_INTO: ReadonlySet<PresetName> = new Set(['nginx_combined', 'apache_combined', 'clf']);

export const presetParsers: Readonly<Record<PresetName, PresetParser>> = {
  nginx_combined: (s, _now, z, into) => parseAccess(s, 'nginx_combined', z, into),
  apache_combined: (s, _now, z, into) => parseAccess(s, 'apache_combined', z, into),
  clf: (s, _now, z, into) => parseAccess(s, 'clf', z, into),
  syslog_rfc3164: (s, now, z) => parseSyslog3164(s, now, z),
  syslog_rfc5424: (s, _now, z) => parseSyslog5424(s, z),
  klog: (s, now, z) => parseKlog(s, now, z),
  cri: (s) => parseCri(s),
  docker: (s) => parseDocker(s),
  kubernetes_path: (s) => parseKubernetesPath(s),
  java_traceback: (s) => parseJavaTraceback(s),
  python_traceback: (s) => parsePythonTraceback(s),
  go_panic: (s) => parseGoPanic(s),
};
