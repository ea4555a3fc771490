/**
 * The shape of user-models.json, checked entry by entry before anything uses it: a hand-edited or damaged
 * file made `embed` spin forever ("fixedBatch": 0), recursed forever (a user entry made an ensemble of
 * itself), or failed as an internal error ("embedders": {}, [null], an entry without source or template),
 * or fed an unknown layout as NCHW. A user entry is always file-backed. Returns the first problem,
 * `entry "<id>": <field> …`, or undefined.
 */
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isFiniteIn = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const shown = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));
const SHA256 = /^[0-9a-f]{64}$/;

type Check = [field: string, ok: (v: unknown) => boolean, want: string];

/**
 * The bounds of the numbers `models add` records, as this check reads them back: `models add` refuses a
 * model outside them before running it (user-models.ts), or saving it would stop every command.
 */
export const USER_MODEL_LIMITS = {
  /** Faces per run of a model whose batch is fixed (its check runs 2·B + 1 rows). */
  fixedBatch: { min: 1, max: 4096 },
  /** Numbers per face of an embedding. */
  dim: { min: 1, max: 65536 },
  /** An embedder's input, pixels a side. */
  inputSize: { min: 8, max: 4096 },
  /** A detector's input width and height, pixels. */
  detectorInput: { min: 16, max: 8192 },
} as const;
const L = USER_MODEL_LIMITS;

/** A file-backed source: {file?, sha256, convertedFrom?}; never a built-in or an ensemble. */
const fileSource: Check = ['source', (v) => isObject(v) && typeof v.sha256 === 'string' && SHA256.test(v.sha256) && !('builtin' in v) && !('ensemble' in v) && (v.file === undefined || typeof v.file === 'string'), 'a model file ({"file", "sha256"}): a user model is always a file'];

const point = (p: unknown) => Array.isArray(p) && p.length === 2 && p.every((c) => isFiniteIn(c, -1e4, 1e4));

const EMBEDDER: Check[] = [
  ['description', (v) => typeof v === 'string', 'a string'],
  ['origin', (v) => v === 'user', '"user"'],
  fileSource,
  ['members', (v) => v === undefined, 'absent (a user model is not an ensemble)'],
  ['inputSize', (v) => isInt(v, L.inputSize.min, L.inputSize.max), `a whole number of pixels from ${L.inputSize.min} to ${L.inputSize.max}`],
  ['layout', (v) => v === 'NCHW' || v === 'NHWC', '"NCHW" or "NHWC"'],
  ['channels', (v) => v === 'RGB' || v === 'BGR', '"RGB" or "BGR"'],
  ['mean', (v) => isFiniteIn(v, -1e6, 1e6), 'a number from -1e6 to 1e6'],
  ['std', (v) => isFiniteIn(v, 1e-6, 1e6), 'a number from 1e-6 to 1e6'],
  ['template', (v) => isObject(v) && isInt(v.width, 8, 4096) && isInt(v.height, 8, 4096) && Array.isArray(v.points) && v.points.length === 5 && v.points.every(point), '{"width", "height", "points": five [x, y]}'],
  ['dim', (v) => isInt(v, L.dim.min, L.dim.max), `a whole number from ${L.dim.min} to ${L.dim.max}`],
  ['flip', (v) => typeof v === 'boolean', 'true or false'],
  ['fixedBatch', (v) => v === undefined || isInt(v, L.fixedBatch.min, L.fixedBatch.max), `absent or a whole number from ${L.fixedBatch.min} to ${L.fixedBatch.max}`],
];

const DETECTOR: Check[] = [
  ['description', (v) => typeof v === 'string', 'a string'],
  ['family', (v) => v === 'scrfd' || v === 'yolov5-face', '"scrfd" or "yolov5-face"'],
  fileSource,
  ['inputWidth', (v) => isInt(v, L.detectorInput.min, L.detectorInput.max), `a whole number of pixels from ${L.detectorInput.min} to ${L.detectorInput.max}`],
  ['inputHeight', (v) => isInt(v, L.detectorInput.min, L.detectorInput.max), `a whole number of pixels from ${L.detectorInput.min} to ${L.detectorInput.max}`],
];

const THRESHOLD = (v: unknown) => isObject(v) && isFiniteIn(v.value, -1, 1) && typeof v.provenance === 'string';

/** The first problem of a parsed user-models.json, or undefined when every entry has its fields of their types. */
export function userModelsProblem(parsed: unknown, idPattern: RegExp): string | undefined {
  if (!isObject(parsed)) return 'not a JSON object';
  const seen = new Set<string>();
  for (const [list, checks] of [['embedders', EMBEDDER], ['detectors', DETECTOR]] as const) {
    const entries = parsed[list];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) return `"${list}" must be a list (got ${shown(entries)})`;
    for (const [i, entry] of entries.entries()) {
      if (!isObject(entry)) return `${list}[${i}] must be an object (got ${shown(entry)})`;
      if (typeof entry.id !== 'string' || !idPattern.test(entry.id))
        return `${typeof entry.id === 'string' ? `entry ${JSON.stringify(entry.id)}` : `${list}[${i}]`}: id must be 1 to 64 letters, digits, . _ - (not starting with . _ -) (got ${shown(entry.id)})`;
      const at = `entry "${entry.id}"`;
      if (seen.has(entry.id)) return `${at}: registered twice`;
      seen.add(entry.id);
      for (const [field, ok, want] of checks) if (!ok(entry[field])) return `${at}: ${field} must be ${want} (got ${shown(entry[field])})`;
      if (list === 'embedders') {
        const t = entry.thresholds;
        if (!isObject(t)) return `${at}: thresholds must be {"verify", "login"} (got ${shown(t)})`;
        for (const use of ['verify', 'login'] as const) {
          const value = isObject(t[use]) ? t[use].value : undefined;
          if (!THRESHOLD(t[use])) return `${at}: thresholds.${use}.value must be a number from -1 to 1 (got ${shown(value)})`;
        }
      }
    }
  }
  return undefined;
}
