/** Per-stage wall-clock accounting, so `detect --timings` and the benchmarks report where time goes. */
export type Stage = 'decode' | 'detect' | 'landmarks' | 'align' | 'embed' | 'search';

export class StageTimer {
  readonly totals = new Map<Stage, number>();
  readonly counts = new Map<Stage, number>();

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(stage, performance.now() - t0);
    }
  }

  add(stage: Stage, ms: number): void {
    this.totals.set(stage, (this.totals.get(stage) ?? 0) + ms);
    this.counts.set(stage, (this.counts.get(stage) ?? 0) + 1);
  }

  reset(): void {
    this.totals.clear();
    this.counts.clear();
  }

  /** Milliseconds per stage, as a plain object (for --json). */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.totals].map(([k, v]) => [k, Math.round(v * 100) / 100]));
  }
}
