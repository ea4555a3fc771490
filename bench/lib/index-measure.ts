/** Timing and memory helpers for bench/index.ts. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Timing {
  /** Work units done (queries, or batches). */
  units: number;
  wallS: number;
  /** CPU time of the whole process (all threads): robust to other load on a shared machine. */
  cpuS: number;
}

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Times one call. */
export function timeOnce<T>(work: () => T): { result: T; timing: Timing } {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const result = work();
  return { result, timing: { units: 1, wallS: (performance.now() - t0) / 1000, cpuS: cpuSeconds() - cpu0 } };
}

/** Repeats `unit(i)` until `budgetS` of wall time has passed or `maxUnits` ran (at least once). */
export function timeRepeated(unit: (i: number) => void, budgetS: number, maxUnits: number): Timing {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  let units = 0;
  do unit(units++);
  while (units < maxUnits && performance.now() - t0 < budgetS * 1000);
  return { units, wallS: (performance.now() - t0) / 1000, cpuS: cpuSeconds() - cpu0 };
}

let gcFunction: (() => void) | undefined;

/** Full garbage collection (exposed at run time), so RSS deltas measure live data only. */
export function collectGarbage(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
  gcFunction();
}

export const rssBytes = (): number => process.memoryUsage.rss();

/** RSS growth caused by `build` (after a GC on both sides), with the build's timing. */
export function measureBuild<T>(build: () => T): { result: T; timing: Timing; rssDelta: number } {
  collectGarbage();
  const before = rssBytes();
  const { result, timing } = timeOnce(build);
  collectGarbage();
  return { result, timing, rssDelta: rssBytes() - before };
}
