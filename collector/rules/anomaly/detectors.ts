/**
 * The named detectors `tidewatch detect --detector NAME` can run. `anomaly` is the collector's
 * rule detector and the default; the others are baselines kept to measure it against.
 */
import type { Tuning } from '../anomaly.js';
import { createAnomalyDetector } from '../anomaly.js';
import { createWindowedGaussian } from './gaussian.js';

export interface PointDetector {
  update(timeMs: number, value: number): { readonly score: number; readonly alert: boolean };
}

export interface DetectorOptions {
  sensitivity?: number;
  /** Dev-only internal constants (bench/nab-loco.py sweeps them); not a stable interface. */
  tuning?: Partial<Tuning>;
}

export type DetectorFactory = (opts: DetectorOptions) => PointDetector;

export const DETECTORS: Readonly<Record<string, DetectorFactory>> = {
  anomaly: (o) => createAnomalyDetector(o),
  gaussian: (o) => createWindowedGaussian(o),
};

export const DEFAULT_DETECTOR = 'anomaly';
