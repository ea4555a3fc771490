/**
 * The `meta` table read with the shape checks a store directory's manifest gets: a value facectl did not
 * write (edited or deleted by hand, a bad restore) is STORE_ERROR, one line naming the key, instead of
 * an internal error, a gallery that silently starts over, or a threshold that turns everyone away.
 */
import { ExitCode, FacectlError } from '../../errors.js';
import { validateModel, validateThreshold } from '../../store/validate.js';
import type { ModelInfo, ThresholdInfo } from '../types.js';

export interface Meta {
  generation: number;
  model: ModelInfo | null;
  threshold: ThresholdInfo | null;
  /** The random token the last commit wrote (PgDraft.finish); absent before the first. */
  commit?: string | null;
}

/** The value as the message shows it: JSON, cut short. */
function shown(value: unknown): string {
  const text = value === undefined ? 'missing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function metaError(schema: string, key: string, value: unknown, why: string): FacectlError {
  return new FacectlError(
    ExitCode.STORE_ERROR,
    `the gallery in schema "${schema}" is damaged: meta "${key}" is ${shown(value)}${value === undefined ? '' : `, ${why}`}; restore the schema from a backup`,
  );
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `meta.schema_version` (a jsonb value as node-postgres parsed it): a positive integer. */
export function parseSchemaVersion(schema: string, value: unknown): number {
  if (!isCount(value) || value < 1) throw metaError(schema, 'schema_version', value, 'not a schema version (a positive integer)');
  return value;
}

/** Checks with a validator that throws FacectlError (validateModel, validateThreshold); its reason is the why. */
function checked<T>(schema: string, key: string, value: unknown, validate: (v: T) => T, what: string): T {
  try {
    return validate(value as T);
  } catch (err) {
    if (!(err instanceof FacectlError)) throw metaError(schema, key, value, `not ${what}`);
    const reason = err.message.replace(/^.*? cannot be recorded in a store: |^invalid threshold: /, '');
    throw metaError(schema, key, value, `not ${what} (${reason})`);
  }
}

/** The meta rows (key → jsonb value) of a gallery, every key facectl reads shape-checked. */
export function parseMeta(schema: string, rows: readonly { key: string; value: unknown }[]): Meta {
  const m = new Map(rows.map((r) => [r.key, r.value]));
  const generation = m.get('generation');
  if (!isCount(generation)) throw metaError(schema, 'generation', generation, 'not a generation (an integer from 0)');
  const model = m.get('model');
  if (model === undefined) throw metaError(schema, 'model', model, '');
  const threshold = m.get('threshold');
  if (threshold === undefined) throw metaError(schema, 'threshold', threshold, '');
  const commit = m.get('commit');
  if (commit !== undefined && commit !== null && typeof commit !== 'string') throw metaError(schema, 'commit', commit, 'not a commit token (a string)');
  return {
    generation,
    model: model === null ? null : checked(schema, 'model', model, validateModel, 'a model record'),
    threshold:
      threshold === null
        ? null
        : checked(schema, 'threshold', threshold, (t: ThresholdInfo) => validateThreshold(typeof t === 'object' && t ? t : ({} as ThresholdInfo)), 'a threshold record'),
    commit: commit as string | null | undefined,
  };
}
