/**
 * The `anomaly` rule's detector: a pure, online, per-series core. Feed it one point at a time
 * (`update(time_ms, value)`); it returns an anomaly score in [0, 1] and whether a new alert starts
 * firing on this point. Time comes with each point (event time), so there is no clock to inject.
 *
 * How it judges a point (each step is O(1) work and fixed memory per series):
 *  1. Baseline. Two robust Holt-Winters style models run side by side: level only, and level + a
 *     time-of-day profile + a coarser time-of-week correction. Buckets come from the point's
 *     timestamp, their width from the sampling interval inferred online. Updates are
 *     Huber-clipped, so an outlier barely moves a baseline. The model with the lowest recent mean
 *     absolute error judges: seasonality is used only when it predicts better.
 *  2. Surprise. The judging model's residual over its robust scale (1.25 * MAE, i.e. sigma for
 *     Gaussian noise) gives z per point.
 *  3. Level shifts. A run of residuals on one side beyond the scale moves a model's level by the
 *     run's mean, so after a step the detector quietens within a few points instead of alarming
 *     until an EWMA catches up.
 *  4. Score. As in Numenta's anomaly likelihood, the short-term mean of the (capped) surprise is
 *     compared with its long-run distribution (decayed mean and variance); the Gaussian tail
 *     probability of that comparison, log-scaled, is the score, damped by an empirical check (a
 *     decayed histogram): how often has this series itself been this surprising lately? Series
 *     whose residuals are always wild get used to them; a quiet series that starts misbehaving
 *     scores near 1.
 *  5. Alert. A new alert starts when the score reaches 1 - sensitivity, after the warm-up, and not
 *     while a previous alert is still firing; an alert keeps firing while the score stays high and
 *     for a hold-off after it drops, so one incident fires once.
 */

export interface AnomalyOptions {
  /** 0..1; higher fires on smaller deviations. Default DEFAULT_SENSITIVITY (0.55). */
  readonly sensitivity?: number;
  /** Points before any alert may fire (the baseline is still learning). Default 100. */
  readonly warmup_points?: number;
  /** Points an alert keeps firing after the score drops below the threshold. Default 48. */
  readonly keep_firing_points?: number;
  /** Dev-only knobs; not part of the stable contract. */
  readonly tuning?: Partial<Tuning>;
}

/**
 * Internal constants. The defaults were set on the NAB dev split (bench/nab-loco.py checks the
 * choice by leaving each category out); gains are per point unless said otherwise.
 */
export interface Tuning {
  /** Level EWMA gain. */
  levelAlpha: number;
  /** Day-profile gain per visit of a bucket (after its first two visits, which average). */
  seasonGamma: number;
  /** Horizon (points) of each model's mean absolute error, its scale and its selection score. */
  maeN: number;
  /** Huber clip of the error that moves a baseline, in sigmas. */
  clipZ: number;
  /** A level shift is shiftRun residuals in a row beyond shiftZ sigmas on one side. */
  shiftZ: number;
  shiftRun: number;
  /** Cap on one point's surprise, in sigmas, so one absurd value cannot own the statistics. */
  zCap: number;
  /** Points in the short-term mean of surprise. */
  shortN: number;
  /** Horizon (points) of the long-run distribution of that mean. */
  longN: number;
  maxDayBuckets: number;
  maxWeekBuckets: number;
  /** Week-correction gain per visit of a bucket. */
  weekGamma: number;
  /** Visits over which a week bucket starts as a running mean (0: EWMA from the start). */
  weekFirstVisits: number;
  /** Horizon (points) of the empirical check's histogram. */
  histN: number;
  /** Empirical check: a history share at or below empP leaves the score undamped. 0 = off. */
  empP: number;
  /**
   * Floor on the spread of the short-term mean of z, as a multiple of what Gaussian noise gives
   * (0.603 / sqrt(shortN)): a near-deterministic series must not make tiny wobbles significant.
   */
  sdFloorScale: number;
  /** Points the judging model must have fitted before its surprise counts. */
  minFit: number;
  /** Points the score must stay over the threshold before an alert starts (Prometheus' `for`). */
  forPoints: number;
}

const DEFAULT_TUNING: Tuning = {
  levelAlpha: 0.1,
  seasonGamma: 0.1,
  maeN: 500,
  clipZ: 3,
  shiftZ: 2.5,
  shiftRun: 8,
  zCap: 300,
  shortN: 8,
  longN: 2000,
  maxDayBuckets: 288,
  maxWeekBuckets: 168,
  weekGamma: 0.1,
  weekFirstVisits: 4,
  histN: 2000,
  empP: 3e-3,
  sdFloorScale: 1,
  minFit: 30,
  forPoints: 1,
};

export interface AnomalyResult {
  /** Anomaly score in [0, 1]; 0 during warm-up and for invalid points. */
  readonly score: number;
  /** true only on the point where a new alert starts firing. */
  readonly alert: boolean;
  /** true while an alert is firing (including the point where it started). */
  readonly firing: boolean;
  /** The judging model's prediction for this point (NaN before the first valid point). */
  readonly baseline: number;
  /** Residual in units of the series' robust scale. */
  readonly z: number;
}

export interface AnomalyStats {
  readonly points: number;
  readonly invalid: number;
  readonly alerts: number;
  readonly level_shifts: number;
  readonly interval_ms: number;
  /** The judging model: level only, or level + day profile + week correction. */
  readonly model: 'level' | 'seasonal';
  /** Numbers held by this detector's arrays: fixed after the interval is known. */
  readonly state_numbers: number;
}

export interface AnomalyDetector {
  update(timeMs: number, value: number): AnomalyResult;
  stats(): AnomalyStats;
}

/** Chosen on the NAB dev split, with zCap 300: every leave-one-category-out fold picked this pair. */
export const DEFAULT_SENSITIVITY = 0.55;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const INTERVAL_RING = 15;
const HIST_BINS = 64;
const EMPTY_F32 = new Float32Array(0);
const EMPTY_U16 = new Uint16Array(0);

/**
 * Exponentially decayed histogram of a non-negative statistic on [0, max], bins on a log1p scale.
 * Decay is lazy (new mass weighs more; renormalised now and then), so add() is O(1).
 */
class DecayedHistogram {
  readonly counts: Float64Array;
  private total = 0;
  private weight = 1;
  private readonly growth: number;
  private readonly logMax: number;

  constructor(
    bins: number,
    max: number,
    horizon: number,
  ) {
    this.counts = new Float64Array(bins);
    this.growth = 1 / (1 - 1 / Math.max(2, horizon));
    this.logMax = Math.log1p(max);
  }

  private bin(x: number): number {
    const b = Math.floor((Math.log1p(Math.max(0, x)) / this.logMax) * this.counts.length);
    return b < 0 ? 0 : b >= this.counts.length ? this.counts.length - 1 : b;
  }

  add(x: number): void {
    const b = this.bin(x);
    this.counts[b] = (this.counts[b] ?? 0) + this.weight;
    this.total += this.weight;
    this.weight *= this.growth;
    if (this.weight > 1e100) {
      for (let i = 0; i < this.counts.length; i++) this.counts[i] = (this.counts[i] ?? 0) / this.weight;
      this.total /= this.weight;
      this.weight = 1;
    }
  }

  /** Share of the (decayed) history at or above x's bin, with one pseudo-count of prior. */
  tail(x: number): number {
    let mass = 0;
    for (let i = this.bin(x); i < this.counts.length; i++) mass += this.counts[i] ?? 0;
    return (mass / this.weight + 1) / (this.total / this.weight + 1);
  }
}

/**
 * One robust Holt-Winters style model: a level, optionally a time-of-day profile, optionally a
 * coarser time-of-week correction learnt on what the day profile leaves over (weekends, say).
 */
class SeasonalModel {
  level = Number.NaN;
  mae = 0;
  maeWeight = 0;
  shifts = 0;
  private runSign = 0;
  private runSum = 0;
  private runLen = 0;
  // Float32 profiles: half the memory per series (bench/detector.mjs), and a profile is an
  // estimate with noise far above float32's 7 digits.
  readonly day: Float32Array;
  readonly daySeen: Uint16Array;
  /** Points that land in one bucket per visit: gains are per visit, not per point. */
  private readonly dayPerVisit: number;
  private readonly weekPerVisit: number;
  readonly week: Float32Array;
  readonly weekSeen: Uint16Array;

  constructor(dayBuckets: number, weekBuckets: number, intervalMs: number) {
    this.dayPerVisit = dayBuckets > 0 ? Math.max(1, Math.round(DAY_MS / dayBuckets / intervalMs)) : 1;
    this.weekPerVisit = weekBuckets > 0 ? Math.max(1, Math.round(WEEK_MS / weekBuckets / intervalMs)) : 1;
    // The level-only model shares empty arrays: a typed array costs ~200 bytes even when empty.
    this.day = dayBuckets > 0 ? new Float32Array(dayBuckets) : EMPTY_F32;
    this.daySeen = dayBuckets > 0 ? new Uint16Array(dayBuckets) : EMPTY_U16;
    this.week = weekBuckets > 0 ? new Float32Array(weekBuckets) : EMPTY_F32;
    this.weekSeen = weekBuckets > 0 ? new Uint16Array(weekBuckets) : EMPTY_U16;
  }

  get kind(): 'level' | 'seasonal' {
    return this.day.length > 0 ? 'seasonal' : 'level';
  }

  predict(timeMs: number): number {
    let p = this.level;
    if (this.day.length > 0) p += this.day[bucketOf(timeMs, DAY_MS, this.day.length)] ?? 0;
    if (this.week.length > 0) p += this.week[bucketOf(timeMs, WEEK_MS, this.week.length)] ?? 0;
    return p;
  }

  /** Learn from one point; `lim` caps the error that moves the baseline (Huber clipping). */
  learn(timeMs: number, value: number, t: Tuning): void {
    if (Number.isNaN(this.level)) {
      this.level = value;
      return;
    }
    const e = value - this.predict(timeMs);
    const scale = 1.2533 * this.mae;
    const lim = this.maeWeight > 20 ? t.clipZ * Math.max(scale, 1e-6 * Math.max(1, Math.abs(this.level))) : Number.POSITIVE_INFINITY;
    const db = this.day.length > 0 ? bucketOf(timeMs, DAY_MS, this.day.length) : -1;
    const seen = db >= 0 ? (this.daySeen[db] ?? 0) : 0xffff;
    if (seen < Math.min(0xfffe, 2 * this.dayPerVisit)) {
      // A bucket in its first two visits knows nothing yet: it takes the whole error (a running
      // mean), unclipped, and the level is left alone.
      this.day[db] = (this.day[db] ?? 0) + e / (seen + 1);
      this.daySeen[db] = seen + 1;
    } else {
      const ec = clamp(e, -lim, lim);
      this.level += t.levelAlpha * ec;
      if (db >= 0) this.day[db] = (this.day[db] ?? 0) + (t.seasonGamma / this.dayPerVisit) * (1 - t.levelAlpha) * ec;
      if (this.week.length > 0) {
        // The week correction estimates what the level and day profile leave over in its bucket
        // (weekends, say): a clipped running mean over its first visits, then an EWMA per visit.
        const wb = bucketOf(timeMs, WEEK_MS, this.week.length);
        const left = value - this.level - (db >= 0 ? (this.day[db] ?? 0) : 0);
        const wSeen = this.weekSeen[wb] ?? 0;
        const w = this.week[wb] ?? 0;
        if (wSeen < Math.min(0xfffe, t.weekFirstVisits * this.weekPerVisit)) {
          this.week[wb] = w + clamp(left - w, -lim, lim) / (wSeen + 1);
          this.weekSeen[wb] = wSeen + 1;
        } else {
          this.week[wb] = w + (t.weekGamma / this.weekPerVisit) * clamp(left - w, -lim, lim);
        }
      }
    }
    // Level shift: a run of same-sided residuals beyond shiftZ moves the level by the run's mean,
    // so a step re-baselines within a few points instead of alarming until the EWMA catches up.
    const zs = Math.abs(e) / Math.max(scale, 1e-6 * Math.max(1, Math.abs(this.level)));
    const sign = this.maeWeight > 20 && zs > t.shiftZ ? Math.sign(e) : 0;
    if (sign !== 0 && sign === this.runSign) {
      this.runSum += e;
      this.runLen++;
    } else {
      this.runSign = sign;
      this.runSum = sign === 0 ? 0 : e;
      this.runLen = sign === 0 ? 0 : 1;
    }
    if (this.runLen >= t.shiftRun) {
      this.level += this.runSum / this.runLen;
      this.shifts++;
      this.runSign = 0;
      this.runSum = 0;
      this.runLen = 0;
    }
    // A bucket never seen before abstains: its error says nothing about how well the model fits.
    if (seen === 0) return;
    const a = Math.max(1 / t.maeN, 1 / (this.maeWeight + 1));
    const absE = Math.abs(e);
    const clipped = this.maeWeight > 20 ? Math.min(absE, 5 * Math.max(this.mae, 1e-12)) : absE;
    this.mae += a * (clipped - this.mae);
    this.maeWeight += 1;
  }
}

function bucketOf(timeMs: number, periodMs: number, buckets: number): number {
  const phase = ((timeMs % periodMs) + periodMs) % periodMs;
  return Math.min(buckets - 1, Math.floor((phase / periodMs) * buckets));
}

export function createAnomalyDetector(opts: AnomalyOptions = {}): AnomalyDetector {
  const t: Tuning = { ...DEFAULT_TUNING, ...(opts.tuning ?? {}) };
  const sensitivity = clamp(opts.sensitivity ?? DEFAULT_SENSITIVITY, 0, 1);
  // Score threshold: sensitivity 0.55 -> 0.45 on the log-scaled likelihood (tail q ~ 3e-5).
  const threshold = 1 - sensitivity;
  const warmup = Math.max(0, Math.floor(opts.warmup_points ?? 100));
  const keepFiring = Math.max(0, Math.floor(opts.keep_firing_points ?? 48));

  let points = 0;
  let invalid = 0;
  let alerts = 0;

  // Sampling interval, inferred from the median of recent positive time steps.
  const deltas = new Float64Array(INTERVAL_RING);
  let nDeltas = 0;
  let lastTime = Number.NaN;
  let intervalMs = Number.NaN;

  let models: SeasonalModel[] | undefined;
  let chosen = 0;

  // Surprise: short ring mean vs decayed long-run mean/variance of that short mean.
  const shortRing = new Float64Array(Math.max(1, t.shortN));
  let shortSum = 0;
  let shortCount = 0;
  let shortPos = 0;
  let longMean = 0;
  let longVar = 0;
  let longWeight = 0;
  const hist = new DecayedHistogram(HIST_BINS, t.zCap, t.histN);
  const sdFloor = Math.max(1e-3, (t.sdFloorScale * 0.603) / Math.sqrt(Math.max(1, t.shortN)));

  // Alert state.
  let firing = false;
  let quietFor = 0;
  let pendingFor = 0;

  function setupModels(): SeasonalModel[] {
    const dt = Number.isFinite(intervalMs) && intervalMs > 0 ? intervalMs : 60_000;
    const out = [new SeasonalModel(0, 0, dt)];
    // A day-only model as a third contender scored the same on NAB (72.0 vs 71.8) and cost 45 %
    // more memory per series: the week correction stays near zero where there is no weekly cycle.
    const dayBuckets = Math.min(t.maxDayBuckets, Math.round(DAY_MS / dt));
    if (dayBuckets >= 4) {
      const weekBuckets = Math.min(t.maxWeekBuckets, Math.round(WEEK_MS / dt));
      out.push(new SeasonalModel(dayBuckets, weekBuckets >= 14 ? weekBuckets : 0, dt));
    }
    return out;
  }

  function noteTime(timeMs: number): void {
    if (Number.isFinite(lastTime)) {
      const d = timeMs - lastTime;
      if (d > 0) {
        deltas[nDeltas % INTERVAL_RING] = d;
        nDeltas++;
        // Recompute the median while learning, then every 64 steps: amortised O(1).
        if (nDeltas <= 64 || nDeltas % 64 === 0) {
          const k = Math.min(nDeltas, INTERVAL_RING);
          intervalMs = median(Array.from(deltas.subarray(0, k)));
        }
      }
    }
    lastTime = timeMs;
  }

  function update(timeMs: number, value: number): AnomalyResult {
    if (typeof value !== 'number' || !Number.isFinite(value) || typeof timeMs !== 'number' || !Number.isFinite(timeMs)) {
      invalid++;
      return { score: 0, alert: false, firing, baseline: Number.NaN, z: 0 };
    }
    points++;
    noteTime(timeMs);
    // Seasonal buckets need the interval: wait for a few steps before building the models.
    if (models === undefined) {
      if (nDeltas < 8 && points < 16) {
        return { score: 0, alert: false, firing: false, baseline: value, z: 0 };
      }
      models = setupModels();
    }

    // 1. Predict with every model; score with the one that has predicted best lately.
    let best = 0;
    let bestMae = Number.POSITIVE_INFINITY;
    for (let i = 0; i < models.length; i++) {
      const m = models[i]!;
      if (m.maeWeight > 0.5 && m.mae < bestMae * 0.98) {
        bestMae = m.mae;
        best = i;
      }
    }
    chosen = best;
    const judge = models[chosen]!;
    const baseline = Number.isNaN(judge.level) ? value : judge.predict(timeMs);
    const sigma = 1.2533 * judge.mae;
    const floor = 1e-6 * Math.max(1, Math.abs(baseline));
    const residual = value - baseline;
    const z = Number.isNaN(judge.level) ? 0 : Math.abs(residual) / Math.max(sigma, floor);

    // 2. Every model learns from the point (Huber-clipped, so outliers barely move a baseline).
    for (const m of models) m.learn(timeMs, value, t);

    // 3-4. Score: short mean of capped surprise against its long-run distribution. Until the
    // judging model has fitted enough points its scale means nothing: feed nothing, score 0.
    if (judge.maeWeight < t.minFit) return { score: 0, alert: false, firing, baseline, z };
    const u = Math.min(z, t.zCap);
    if (shortCount < shortRing.length) {
      shortRing[shortPos] = u;
      shortSum += u;
      shortCount++;
    } else {
      shortSum += u - (shortRing[shortPos] ?? 0);
      shortRing[shortPos] = u;
    }
    shortPos = (shortPos + 1) % shortRing.length;
    const shortMean = shortSum / shortCount;
    let score = 0;
    if (longWeight > 10) {
      const sd = Math.max(Math.sqrt(longVar), sdFloor);
      const q = gaussianTail((shortMean - longMean) / sd);
      // Log-scale like Numenta's likelihood: q = 1e-10 -> 1, q = 1e-5 -> 0.5, q >= 0.5 -> ~0.
      score = clamp(Math.log(q) / Math.log(1e-10), 0, 1);
      if (t.empP > 0) {
        // Heavy tails: how often has the series itself been at least this surprising lately?
        const pe = hist.tail(shortMean);
        score *= clamp(Math.log(pe) / Math.log(t.empP), 0, 1);
      }
    }
    hist.add(shortMean);
    const la = Math.max(1 / t.longN, 1 / (longWeight + 1));
    const dm = shortMean - longMean;
    longMean += la * dm;
    longVar = (1 - la) * (longVar + la * dm * dm);
    longWeight++;

    if (points <= warmup) score = 0;

    // 5. Alert lifecycle: start on a crossing, keep firing while high and for a hold-off after.
    let alert = false;
    if (score >= threshold && points > warmup) {
      pendingFor++;
      if (!firing && pendingFor >= t.forPoints) {
        firing = true;
        alert = true;
        alerts++;
      }
      quietFor = 0;
    } else {
      pendingFor = 0;
      if (!firing) return { score, alert, firing, baseline, z };
      quietFor++;
      if (quietFor > keepFiring) firing = false;
    }
    return { score, alert, firing, baseline, z };
  }

  function stats(): AnomalyStats {
    let nums = INTERVAL_RING + shortRing.length + HIST_BINS;
    for (const m of models ?? []) nums += 2 * m.day.length + 2 * m.week.length + 3;
    const model = models?.[chosen]?.kind ?? 'level';
    return { points, invalid, alerts, level_shifts: models?.[chosen]?.shifts ?? 0, interval_ms: intervalMs, model, state_numbers: nums };
  }

  return { update, stats };
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Upper tail of the standard normal, P(Z > x), via the complementary error function. */
function gaussianTail(x: number): number {
  return 0.5 * erfc(x / Math.SQRT2);
}

// Numerical Recipes' erfc approximation (relative error < 1.2e-7), accurate far into the tail.
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
