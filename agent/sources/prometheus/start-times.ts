/**
 * Start times for scraped cumulative series, which Prometheus does not carry (unless the target
 * exposes OpenMetrics `_created`). The first scrape that sees a series starts it; a counter or
 * histogram count that goes down is a reset (the target restarted), and the series restarts at
 * the previous scrape time, so consumers see a new start time rather than a negative increase.
 * Pure and bounded: the least recently seen series is forgotten beyond `maxSeries` (counted).
 */
import type { MetricPoint } from '../../../core/model.js';
import { seriesKey } from '../otlp/delta.js';

interface Seen {
  start: number;
  last: number;
  time: number;
}

export class StartTimes {
  resets = 0;
  evicted = 0;
  private readonly series = new Map<string, Seen>();

  constructor(private readonly maxSeries = 100_000) {}

  /** Sets start_time on cumulative sums and histograms that lack one; changes the points in place. */
  apply(points: MetricPoint[]): void {
    for (const p of points) {
      if (!((p.type === 'sum' || p.type === 'histogram') && p.temporality === 'cumulative')) continue;
      const level = p.type === 'sum' ? p.value : p.count;
      const key = seriesKey(p);
      const s = this.series.get(key);
      if (s === undefined) {
        this.remember(key, { start: p.start_time ?? p.time, last: level, time: p.time });
      } else {
        this.series.delete(key);
        let start = s.start;
        if (p.start_time !== undefined) start = p.start_time;
        else if (level < s.last) {
          this.resets++;
          start = s.time;
        }
        this.remember(key, { start, last: level, time: p.time });
      }
      p.start_time ??= this.series.get(key)!.start;
    }
  }

  private remember(key: string, s: Seen): void {
    if (this.series.size >= this.maxSeries) {
      const oldest = this.series.keys().next();
      if (!oldest.done) {
        this.series.delete(oldest.value);
        this.evicted++;
      }
    }
    this.series.set(key, s);
  }
}
