/** Order statistics of bench timings (upper median for an even count, as every bench here reports). */

/** The middle value of xs (the upper one of the two for an even count); xs is not modified. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The 95th-percentile value of xs (nearest rank, rounded down); xs is not modified. */
export const p95 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;
