/**
 * A deliberately naive rival for the `anomaly` detector, kept to measure it against: NAB's
 * "windowed Gaussian" idea (score = Gaussian tail probability of the point against the mean and
 * standard deviation of the last `window` points), with the same alert policy shape as the real
 * detector (fire on crossing, hold while high). No seasonality, no robustness.
 */
export interface GaussianOptions {
  readonly sensitivity?: number;
  readonly window?: number;
  readonly warmup_points?: number;
}

export interface SimpleDetector {
  update(timeMs: number, value: number): { score: number; alert: boolean };
}

export function createWindowedGaussian(opts: GaussianOptions = {}): SimpleDetector {
  const size = Math.max(2, Math.floor(opts.window ?? 6400));
  const warmup = Math.max(0, Math.floor(opts.warmup_points ?? 300));
  const threshold = 1 - Math.min(1, Math.max(0, opts.sensitivity ?? 0.5));
  const ring = new Float64Array(size);
  let n = 0;
  let pos = 0;
  let sum = 0;
  let sumSq = 0;
  let points = 0;
  let firing = false;
  let quiet = 0;
  return {
    update(_timeMs: number, value: number) {
      if (!Number.isFinite(value)) return { score: 0, alert: false };
      points++;
      let score = 0;
      if (n >= 2) {
        const mean = sum / n;
        const sd = Math.sqrt(Math.max(sumSq / n - mean * mean, 1e-12));
        const z = Math.abs(value - mean) / sd;
        // Two-sided tail probability, log-scaled so 1e-5 -> 0.5 like the main detector's score.
        const q = Math.max(1e-300, Math.exp(-0.5 * z * z));
        score = Math.min(1, Math.max(0, Math.log(q) / Math.log(1e-10)));
      }
      if (n < size) n++;
      else {
        const old = ring[pos] ?? 0;
        sum -= old;
        sumSq -= old * old;
      }
      ring[pos] = value;
      sum += value;
      sumSq += value * value;
      pos = (pos + 1) % size;
      if (points <= warmup) score = 0;
      let alert = false;
      if (score >= threshold && points > warmup) {
        if (!firing) alert = true;
        firing = true;
        quiet = 0;
      } else if (firing && ++quiet > 48) firing = false;
      return { score, alert };
    },
  };
}
