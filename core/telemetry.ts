/**
 * Self-telemetry counters. The runner counts at stage boundaries (received, sent, dropped by
 * reason, errors by code); components add their own. Bounded: a counter family holds at most
 * `maxSeries` label sets and counts the overflow instead of growing.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Telemetry {
  /** Adds `n` (default 1) to the counter `name` with `labels`. */
  add(name: string, labels?: Labels, n?: number): void;
  /** Sets a gauge. */
  set(name: string, labels: Labels, value: number): void;
  snapshot(): TelemetrySample[];
}

export interface TelemetrySample {
  name: string;
  kind: 'counter' | 'gauge';
  labels: Labels;
  value: number;
}

function keyOf(name: string, labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? name : `${name}{${keys.map((k) => `${k}=${labels[k]}`).join(',')}}`;
}

export class MemoryTelemetry implements Telemetry {
  private readonly series = new Map<string, TelemetrySample>();
  private overflow = 0;

  constructor(private readonly maxSeries = 10_000) {}

  add(name: string, labels: Labels = {}, n = 1): void {
    const s = this.get(name, 'counter', labels);
    if (s) s.value += n;
  }

  set(name: string, labels: Labels, value: number): void {
    const s = this.get(name, 'gauge', labels);
    if (s) s.value = value;
  }

  /** Current value of a counter or gauge, 0 when never touched. */
  value(name: string, labels: Labels = {}): number {
    return this.series.get(keyOf(name, labels))?.value ?? 0;
  }

  snapshot(): TelemetrySample[] {
    const out = [...this.series.values()].map((s) => ({ ...s }));
    if (this.overflow > 0) out.push({ name: 'tidewatch_telemetry_series_overflow_total', kind: 'counter', labels: {}, value: this.overflow });
    return out;
  }

  private get(name: string, kind: 'counter' | 'gauge', labels: Labels): TelemetrySample | undefined {
    const key = keyOf(name, labels);
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.series.size >= this.maxSeries) {
        this.overflow++;
        return undefined;
      }
      s = { name, kind, labels: { ...labels }, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }
}
