/** Shape tests for parsed JSON (a store's manifest, an index file's header). */

/** A JSON object: not null, not an array. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A whole number from 0 up to Number.MAX_SAFE_INTEGER. */
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
