/**
 * manifest.json: the description of one committed generation. It names the checksums of data.csv and
 * embeddings.f32, so a reader can tell the files belong together.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { isCount, isObject } from '../json-shape.js';
import { MANIFEST_FILE } from './names.js';
import type { ModelInfo, ThresholdInfo } from './types.js';

export const MANIFEST_FORMAT = 'facectl-store';
export const MANIFEST_VERSION = 1;

export interface FileDigest {
  /** Hex sha256 of the whole file. */
  sha256: string;
  bytes: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  /** Increases by one on every commit: a cheap "has anything changed" key. */
  generation: number;
  /** Generation of the commit that last rewrote embeddings.f32 (its header repeats it). */
  embeddingsGeneration: number;
  /** The embedder the store is bound to; null until the first face is enrolled. */
  model: ModelInfo | null;
  threshold: ThresholdInfo | null;
  counts: { identities: number; faces: number };
  files: { 'data.csv': FileDigest; 'embeddings.f32': FileDigest };
  /** ISO 8601 time of the commit. */
  updatedAt: string;
}

export class ManifestFormatError extends Error {}

export const encodeManifest = (m: Manifest): string => `${JSON.stringify(m, null, 2)}\n`;

function checkDigest(v: unknown, name: string): FileDigest {
  if (!isObject(v) || typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256) || !isCount(v.bytes)) {
    throw new ManifestFormatError(`manifest.json: files["${name}"] needs a sha256 and a byte count`);
  }
  return { sha256: v.sha256, bytes: v.bytes };
}

/**
 * A store a newer facectl wrote is not damage: reading it as damage would send the user to
 * `index rebuild`, which would rewrite it in this older format and lose what the newer one recorded.
 */
const newerStore = (version: number, dir?: string): FacectlError =>
  new FacectlError(ExitCode.STORE_ERROR, `written by a newer facectl (store format ${version}; this one reads ${MANIFEST_VERSION}): upgrade facectl`, dir);

/** STORE_ERROR when a parsed manifest names a newer format version than this facectl reads. */
function refuseNewer(raw: unknown, dir?: string): void {
  if (isObject(raw) && typeof raw.formatVersion === 'number' && raw.formatVersion > MANIFEST_VERSION) throw newerStore(raw.formatVersion, dir);
}

/** STORE_ERROR when manifest.json's text names a newer format version; text that is not JSON is left to parseManifest. */
export function checkManifestVersion(text: string, dir?: string): void {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return;
  }
  refuseNewer(raw, dir);
}

/**
 * Parses and shape-checks manifest.json; throws ManifestFormatError with what is wrong, or STORE_ERROR
 * (a FacectlError, passed through as it is) when a newer facectl wrote it. `dir` only names the store.
 */
export function parseManifest(text: string, dir?: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestFormatError(`manifest.json is not JSON: ${(err as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new ManifestFormatError(`manifest.json: ${what}`);
  };
  if (!isObject(raw) || raw.format !== MANIFEST_FORMAT) return fail(`not a ${MANIFEST_FORMAT} manifest`);
  refuseNewer(raw, dir);
  if (raw.formatVersion !== MANIFEST_VERSION) fail(`format version ${String(raw.formatVersion)}; this facectl reads ${MANIFEST_VERSION}`);
  if (!isCount(raw.generation) || raw.generation < 1) fail('generation must be a positive integer');
  if (!isCount(raw.embeddingsGeneration) || raw.embeddingsGeneration > (raw.generation as number)) fail('bad embeddingsGeneration');
  const model = raw.model;
  if (model !== null && !(isObject(model) && typeof model.id === 'string' && typeof model.hash === 'string' && isCount(model.dimension))) {
    fail('model must be null or {id, hash, dimension}');
  }
  const threshold = raw.threshold;
  if (threshold !== null && !(isObject(threshold) && typeof threshold.value === 'number' && typeof threshold.source === 'string')) {
    fail('threshold must be null or {value, source, …}');
  }
  const counts = raw.counts;
  if (!isObject(counts) || !isCount(counts.identities) || !isCount(counts.faces)) fail('counts must hold identities and faces');
  if (!isObject(raw.files)) fail('files is missing');
  const files = raw.files as Record<string, unknown>;
  if (typeof raw.updatedAt !== 'string') fail('updatedAt is missing');
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    generation: raw.generation as number,
    embeddingsGeneration: raw.embeddingsGeneration as number,
    model: model === null ? null : { id: (model as ModelInfo).id, hash: (model as ModelInfo).hash, dimension: (model as ModelInfo).dimension },
    threshold: threshold as ThresholdInfo | null,
    counts: { identities: (counts as Manifest['counts']).identities, faces: (counts as Manifest['counts']).faces },
    files: { 'data.csv': checkDigest(files['data.csv'], 'data.csv'), 'embeddings.f32': checkDigest(files['embeddings.f32'], 'embeddings.f32') },
    updatedAt: raw.updatedAt as string,
  };
}

/**
 * What tells one committed state of a store from any other, where the generation alone does not: a store
 * deleted and created anew at the same path restarts at generation 1. The generation with the sha256 of
 * data.csv and embeddings.f32 and the commit's time; '' for a store with nothing committed (generation 0).
 */
export const manifestState = (m: Readonly<Manifest>): string =>
  m.generation === 0 ? '' : `${m.generation} ${m.files['data.csv'].sha256} ${m.files['embeddings.f32'].sha256} ${m.updatedAt}`;

/**
 * manifestState() of the manifest the store directory holds now ('' when none), for a long-lived reader
 * (`facectl serve`) to learn that the store it read is no longer the committed one. A manifest that cannot
 * be parsed gives a state of its own, so that the reader reopens the store and hears what is wrong with it.
 */
export async function readCommittedState(dir: string): Promise<string> {
  const text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return '';
  try {
    return manifestState(parseManifest(text, dir));
  } catch (err) {
    if (err instanceof ManifestFormatError) return `unreadable ${createHash('sha256').update(text).digest('hex')}`;
    throw err;
  }
}

/**
 * The generation the store directory holds now (its manifest alone, a few hundred bytes; commits replace
 * it last, by rename), 0 when none is committed: how a long-lived reader or a late writer of a derived
 * file learns that another process committed since it read the store.
 */
export async function readCommittedGeneration(dir: string): Promise<number> {
  const text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? 0 : parseManifest(text, dir).generation;
}
