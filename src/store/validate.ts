/** Checks on what callers put into a store: ids, display names, model bindings, face records. */
import { ExitCode, FacectlError, quoted } from '../errors.js';
import type { ModelInfo, NewFace, ThresholdInfo } from './types.js';

export const MAX_ID_LENGTH = 64;
export const MAX_NAME_LENGTH = 200;
export const MAX_MODEL_ID_BYTES = 64;
export const MAX_MODEL_HASH_BYTES = 128;

/** ASCII letters and digits, then letters, digits, '.', '_', '-': no slashes, no leading dot or dash, no "..". */
const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** Control characters (C0, DEL, C1): they hide text in terminals and break one-line output. */
const CONTROL = /\p{Cc}/u;
/** In a /u regex a valid surrogate pair is one code point, so this matches only lone (unencodable) surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (text: string): boolean => !LONE_SURROGATE.test(text);

/** Quoted for messages, with control characters escaped so a hostile id cannot rewrite the terminal. */

export function isValidId(id: string): boolean {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/** Throws INVALID_ID unless `id` is 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
export function validateId(id: string): string {
  if (!isValidId(id)) {
    throw new FacectlError(
      ExitCode.INVALID_ID,
      `invalid id ${quoted(String(id))}: use 1-${MAX_ID_LENGTH} letters, digits, '.', '_' or '-', not starting with '.' or '-'`,
    );
  }
  return id;
}

/** Problem with a display name, or undefined when it is acceptable. */
const CONTROL_OR_LONE_SURROGATE = /[\p{Cc}\p{Cs}]/u;

/** Code points, counting a surrogate pair once. */
function codePointLength(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

export function nameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.trim().length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH && codePointLength(name) > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  // One regex pass for the common case (checked on every row of every open).
  if (CONTROL_OR_LONE_SURROGATE.test(name)) {
    return wellFormed(name) ? 'it contains a control character (newline, tab, escape…)' : 'it is not valid Unicode (lone surrogate)';
  }
  return undefined;
}

/** Throws USAGE unless `name` is 1..200 characters of well-formed Unicode without control characters. */
export function validateDisplayName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new FacectlError(ExitCode.USAGE, `invalid display name ${quoted(String(name))}: ${problem}`);
  return name;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Throws MODEL_ERROR when the model description cannot be recorded (it must fit the dump header). */
export function validateModel(model: ModelInfo): ModelInfo {
  const bad = (why: string): never => {
    throw new FacectlError(ExitCode.MODEL_ERROR, `model ${quoted(String(model?.id))} cannot be recorded in a store: ${why}`);
  };
  if (!model || typeof model.id !== 'string' || typeof model.hash !== 'string') bad('id and hash must be strings');
  const textOk = (t: string, max: number) => t.length > 0 && utf8Bytes(t) <= max && !CONTROL.test(t) && wellFormed(t);
  if (!textOk(model.id, MAX_MODEL_ID_BYTES)) bad(`id must be 1-${MAX_MODEL_ID_BYTES} bytes without control characters`);
  if (!textOk(model.hash, MAX_MODEL_HASH_BYTES)) bad(`hash must be 1-${MAX_MODEL_HASH_BYTES} bytes without control characters`);
  if (!Number.isInteger(model.dimension) || model.dimension < 1 || model.dimension > 65536) {
    bad(`dimension must be an integer 1..65536, got ${model.dimension}`);
  }
  return { id: model.id, hash: model.hash, dimension: model.dimension };
}

/** Internal error: the caller (pipeline or CLI code) handed the store a malformed record. */
const internal = (what: string): never => {
  throw new FacectlError(ExitCode.INTERNAL, `bad face record for the store: ${what}`);
};

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Checks a face to enroll; embedding dimension is checked by the draft against the model. */
export function validateNewFace(face: NewFace): void {
  validateId(face.id);
  validateDisplayName(face.name);
  if (typeof face.sourcePath !== 'string' || face.sourcePath.includes('\0')) internal('sourcePath must be a string without NUL');
  if (!/^[0-9a-f]{64}$/.test(face.imageSha256)) internal(`imageSha256 must be 64 lowercase hex digits, got ${quoted(String(face.imageSha256))}`);
  const { box, quality } = face;
  if (!box || ![box.x, box.y, box.width, box.height].every(finite)) internal('box must hold finite x, y, width, height');
  if (!quality || ![quality.score, quality.eyeDistancePx, quality.sizePx, quality.rollDeg, quality.yawDeg].every(finite)) {
    internal('quality must hold finite score, eyeDistancePx, sizePx, rollDeg, yawDeg');
  }
  if (quality.sharpness !== undefined && !finite(quality.sharpness)) internal('quality.sharpness must be finite when given');
  if (face.addedAt !== undefined && Number.isNaN(Date.parse(face.addedAt))) internal(`addedAt is not a date: ${quoted(face.addedAt)}`);
  if (!(face.embedding instanceof Float32Array)) internal('embedding must be a Float32Array');
}

export function validateThreshold(threshold: ThresholdInfo): ThresholdInfo {
  const bad = (why: string): never => {
    throw new FacectlError(ExitCode.USAGE, `invalid threshold: ${why}`);
  };
  if (!finite(threshold.value) || threshold.value < -1 || threshold.value > 1) bad(`value must be a cosine similarity in [-1, 1], got ${threshold.value}`);
  if (!['default', 'calibrated', 'manual'].includes(threshold.source)) bad(`unknown source ${quoted(String(threshold.source))}`);
  if (threshold.targetFpr !== undefined && !(finite(threshold.targetFpr) && threshold.targetFpr >= 0 && threshold.targetFpr <= 1)) {
    bad(`target FPR must be in [0, 1], got ${threshold.targetFpr}`);
  }
  if (threshold.basis !== undefined && threshold.basis !== 'pairs' && threshold.basis !== 'open-set') bad(`unknown basis ${quoted(String(threshold.basis))}`);
  if (Number.isNaN(Date.parse(threshold.date))) bad(`date is not ISO 8601: ${quoted(String(threshold.date))}`);
  if (typeof threshold.model !== 'string' || threshold.model.length === 0) bad('model id is missing');
  const out: ThresholdInfo = { value: threshold.value, source: threshold.source, date: threshold.date, model: threshold.model };
  if (threshold.dataset !== undefined) out.dataset = threshold.dataset;
  if (threshold.targetFpr !== undefined) out.targetFpr = threshold.targetFpr;
  if (threshold.basis !== undefined) out.basis = threshold.basis;
  return out;
}
