/**
 * Alert history: one JSON object per line (the AlertRecord plus the transition and context) in
 * `<data_dir>/collector/<component>/alerts.jsonl`, so a restart loses none of it (the dashboard's
 * embedded store, issue 10, may read it in). Appends are queued and written in order by one
 * background chain: the rules transform never waits on the disk. Bounded: at most `maxPending`
 * lines wait (beyond, lines are dropped and counted); the file rotates to `alerts.jsonl.1` past
 * `maxBytes` (one generation kept).
 */
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export class AlertHistory {
  private queue: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private writing = false;
  dropped = 0;
  written = 0;
  failures = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly maxPending = 10_000,
  ) {}

  append(entry: unknown): void {
    if (this.queue.length >= this.maxPending) {
      this.dropped++;
      return;
    }
    this.queue.push(`${JSON.stringify(entry)}\n`);
    if (!this.writing) this.kick();
  }

  private kick(): void {
    this.writing = true;
    this.chain = this.chain.then(async () => {
      while (this.queue.length > 0) {
        const lines = this.queue;
        this.queue = [];
        try {
          await mkdir(dirname(this.path), { recursive: true });
          const size = await stat(this.path).then((s) => s.size, () => 0);
          if (size > this.maxBytes) await rename(this.path, `${this.path}.1`);
          await appendFile(this.path, lines.join(''));
          this.written += lines.length;
        } catch {
          this.failures++;
          this.dropped += lines.length;
        }
      }
      this.writing = false;
    });
  }

  /** Resolves when everything appended so far is on disk (or counted as failed). */
  async drain(): Promise<void> {
    while (this.writing || this.queue.length > 0) await this.chain;
  }
}
