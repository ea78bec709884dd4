/**
 * The agent's self-telemetry, on one path: the runner and components count into the
 * `Telemetry` they are given (core/telemetry.ts: cheap, synchronous, bounded); this module
 * bridges those counters and gauges into @opentelemetry/sdk-metrics as observable instruments,
 * and reads them back through sdk-metrics MetricReaders. sdk-metrics supplies what a plain map
 * does not: start times, cumulative or delta temporality per reader (it computes the deltas),
 * and a `meter` for instruments a component records directly (histograms such as send latency).
 * Both outputs come from those readers: the cumulative one feeds `/metrics` (Prometheus text),
 * the other the agent's own pipeline (`internal_metrics` source). Nothing is counted twice.
 *
 * Loaded only by the `internal_metrics` source, so an agent without it never imports sdk-metrics.
 */
import { AggregationTemporality, DataPointType, InstrumentType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { CollectionResult, MetricData } from '@opentelemetry/sdk-metrics';
import type { Meter, ObservableResult } from '@opentelemetry/api';
import type { Attributes, MetricPoint, Temporality } from '../core/model.js';
import type { Telemetry, TelemetrySample } from '../core/telemetry.js';

class PullReader extends MetricReader {
  constructor(temporality: AggregationTemporality) {
    super({ aggregationTemporalitySelector: (t) => (t === InstrumentType.OBSERVABLE_GAUGE || t === InstrumentType.GAUGE ? AggregationTemporality.CUMULATIVE : temporality) });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const hrMs = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

export class SelfTelemetry {
  readonly meter: Meter;
  private readonly provider: MeterProvider;
  private readonly cumulative = new PullReader(AggregationTemporality.CUMULATIVE);
  private readonly pipeline: PullReader;
  private readonly bridged = new Set<string>();
  private latest = new Map<string, TelemetrySample[]>();

  /**
   * @param source the counters to bridge (the runner's Telemetry)
   * @param pipelineTemporality temporality of what `collectForPipeline` returns
   * @param maxInstruments bridged metric names at most (each is an instrument); beyond it, skipped and counted
   */
  constructor(
    private readonly source: Telemetry,
    pipelineTemporality: Temporality,
    private readonly maxInstruments = 1000,
  ) {
    this.pipeline = new PullReader(pipelineTemporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE);
    this.provider = new MeterProvider({ readers: [this.cumulative, this.pipeline] });
    this.meter = this.provider.getMeter('tidewatch.agent');
  }

  /** Creates an instrument for every counter or gauge name not bridged yet, and takes a snapshot for the callbacks. */
  private sync(): void {
    const byName = new Map<string, TelemetrySample[]>();
    for (const s of this.source.snapshot()) {
      const list = byName.get(s.name);
      if (list === undefined) byName.set(s.name, [s]);
      else list.push(s);
    }
    this.latest = byName;
    for (const [name, samples] of byName) {
      if (this.bridged.has(name)) continue;
      if (this.bridged.size >= this.maxInstruments) {
        this.source.add('tidewatch_telemetry_instruments_skipped_total', {});
        continue;
      }
      this.bridged.add(name);
      const observe = (o: ObservableResult): void => {
        for (const s of this.latest.get(name) ?? []) o.observe(s.value, { ...s.labels });
      };
      if (samples[0]!.kind === 'counter') this.meter.createObservableCounter(name).addCallback(observe);
      else this.meter.createObservableGauge(name).addCallback(observe);
    }
  }

  /** Cumulative points of everything, for /metrics. */
  async collectCumulative(): Promise<MetricPoint[]> {
    this.sync();
    return toPoints(await this.cumulative.collect());
  }

  /** Points for the agent's own pipeline, in the configured temporality. */
  async collectForPipeline(): Promise<MetricPoint[]> {
    this.sync();
    return toPoints(await this.pipeline.collect());
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** sdk-metrics' data model → tidewatch points (resource left empty: the caller sets it). */
export function toPoints(r: CollectionResult): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const sm of r.resourceMetrics.scopeMetrics) for (const m of sm.metrics) out.push(...metricPoints(m));
  return out;
}

function metricPoints(m: MetricData): MetricPoint[] {
  const out: MetricPoint[] = [];
  const temporality: Temporality = m.aggregationTemporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative';
  const meta: { description?: string; unit?: string } = {};
  if (m.descriptor.description !== '') meta.description = m.descriptor.description;
  if (m.descriptor.unit !== '') meta.unit = m.descriptor.unit;
  for (const dp of m.dataPoints) {
    const base = { kind: 'metric' as const, name: m.descriptor.name, time: hrMs(dp.endTime), start_time: hrMs(dp.startTime), attributes: { ...dp.attributes } as Attributes, resource: {}, ...meta };
    switch (m.dataPointType) {
      case DataPointType.GAUGE: {
        const { start_time: _s, ...g } = base;
        out.push({ ...g, type: 'gauge', value: dp.value as number });
        break;
      }
      case DataPointType.SUM:
        out.push({ ...base, type: 'sum', temporality, monotonic: m.isMonotonic, value: dp.value as number });
        break;
      case DataPointType.HISTOGRAM: {
        const h = dp.value as { buckets: { boundaries: number[]; counts: number[] }; count: number; sum?: number; min?: number; max?: number };
        const p: MetricPoint = { ...base, type: 'histogram', temporality, count: h.count, bucket_bounds: h.buckets.boundaries, bucket_counts: h.buckets.counts };
        if (h.sum !== undefined) p.sum = h.sum;
        if (h.min !== undefined) p.min = h.min;
        if (h.max !== undefined) p.max = h.max;
        out.push(p);
        break;
      }
      default:
        // Exponential histograms: not created by tidewatch's own instruments.
        break;
    }
  }
  return out;
}
