/**
 * Event-time watermarks per input partition (a Kafka partition, an agent's stream), pure.
 *
 * A partition's watermark is the highest event time it delivered. The combined watermark is the
 * lowest over the partitions that are active, so a window closes only when every live input has
 * passed it. A partition that delivered nothing for `idleTimeoutMs` of processing time is idle
 * and no longer holds the others back (a quiet host must not freeze every window, as Flink's
 * `withIdleness` and Kafka Streams' `max.task.idle.ms` avoid). When every partition is idle, the
 * watermark follows the wall clock, `now - idleTimeoutMs`, so the last windows of a quiet system
 * still close and the dashboard sees their final values. The watermark never goes back.
 *
 * With `idleTimeoutMs = 0` every partition is idle at once and the watermark is `now`: windows on
 * processing time, which is what a single embedded process with wall-clock event times wants.
 *
 * Bounded: at most `maxPartitions` partitions; more share one overflow partition (counted).
 */

export interface WatermarkOptions {
  readonly idleTimeoutMs: number;
  readonly maxPartitions: number;
}

interface Partition {
  maxTime: number;
  lastSeen: number;
}

export const OVERFLOW_PARTITION = '__overflow__';

export class Watermarks {
  private readonly parts = new Map<string, Partition>();
  private wm = Number.NEGATIVE_INFINITY;
  /** The partition of the previous observation: a stream's events come in runs, so most skip the lookup. */
  private lastName: string | undefined;
  private last: Partition | undefined;
  partitionOverflow = 0;

  constructor(private readonly opts: WatermarkOptions) {}

  get partitions(): number {
    return this.parts.size;
  }

  /** The watermark as of the last `advance`. */
  get current(): number {
    return this.wm;
  }

  /** Notes an event of `partition` with event time `time`, seen at processing time `now`. */
  observe(partition: string, time: number, now: number): void {
    let p = partition === this.lastName ? this.last : this.parts.get(partition);
    if (p === undefined) {
      if (this.parts.size >= this.opts.maxPartitions) {
        this.partitionOverflow++;
        p = this.parts.get(OVERFLOW_PARTITION);
        if (p === undefined) {
          p = { maxTime: Number.NEGATIVE_INFINITY, lastSeen: now };
          // The overflow partition takes the place of none: one over the limit, once.
          this.parts.set(OVERFLOW_PARTITION, p);
        }
      } else {
        p = { maxTime: Number.NEGATIVE_INFINITY, lastSeen: now };
        this.parts.set(partition, p);
        this.lastName = partition;
        this.last = p;
      }
    } else {
      this.lastName = partition;
      this.last = p;
    }
    if (time > p.maxTime) p.maxTime = time;
    if (now > p.lastSeen) p.lastSeen = now;
  }

  /** Recomputes the watermark at processing time `now` and returns it. */
  advance(now: number): number {
    let low = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const p of this.parts.values()) {
      if (now - p.lastSeen >= this.opts.idleTimeoutMs) continue;
      active++;
      if (p.maxTime < low) low = p.maxTime;
    }
    const next = active > 0 ? low : now - this.opts.idleTimeoutMs;
    if (next > this.wm) this.wm = next;
    return this.wm;
  }

  /** Idle partitions (for the dashboard: which inputs went quiet). */
  idle(now: number): string[] {
    const out: string[] = [];
    for (const [k, p] of this.parts) if (now - p.lastSeen >= this.opts.idleTimeoutMs) out.push(k);
    return out;
  }
}
