/**
 * The named presets of the `parse` transform, each a pure core with the same call shape:
 * `(line, now, zone) -> ParseResult`. `now` is only used to infer a missing year.
 */
import { parseAccess } from './access.js';
import { parseKlog } from './klog.js';
import type { ParseResult } from './result.js';
import { parseSyslog3164, parseSyslog5424 } from './syslog.js';
import type { Zone } from './timestamp.js';
import { parseJavaTraceback, parsePythonTraceback } from './traceback.js';

export const PRESETS = [
  'nginx_combined',
  'apache_combined',
  'clf',
  'syslog_rfc3164',
  'syslog_rfc5424',
  'klog',
  'java_traceback',
  'python_traceback',
] as const;
export type PresetName = (typeof PRESETS)[number];

export type PresetParser = (input: string | Buffer, now: number, zone?: Zone) => ParseResult;

export const presetParsers: Readonly<Record<PresetName, PresetParser>> = {
  nginx_combined: (s, _now, z) => parseAccess(s, 'nginx_combined', z),
  apache_combined: (s, _now, z) => parseAccess(s, 'apache_combined', z),
  clf: (s, _now, z) => parseAccess(s, 'clf', z),
  syslog_rfc3164: (s, now, z) => parseSyslog3164(s, now, z),
  syslog_rfc5424: (s, _now, z) => parseSyslog5424(s, z),
  klog: (s, now, z) => parseKlog(s, now, z),
  java_traceback: (s) => parseJavaTraceback(s),
  python_traceback: (s) => parsePythonTraceback(s),
};
