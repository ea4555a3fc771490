/**
 * Model id → ready-to-load ONNX file. Built-in models are converted on first use (cache.ts); user models
 * are files registered with `facectl models add` (user-models.ts), checked against their recorded sha256;
 * an ensemble resolves each of its members, with the ensemble's own `flip` (whether the mirrored face is
 * embedded too) in place of theirs.
 */
import { createHash } from 'node:crypto';
import { ExitCode, FacectlError } from '../errors.js';
import { prepareModel } from './cache.js';
import { BUILTIN_EMBEDDERS, DEFAULT_EMBEDDER, embedderFingerprint, type EmbedderSpec } from './registry.js';
import { listUserModels, userModelsNotUsed, verifyUserModelFile } from './user-models.js';

export interface ResolvedEmbedder {
  spec: EmbedderSpec;
  /** The ONNX file ('' for an ensemble, which has none of its own). */
  path: string;
  /** The file's sha256; an ensemble's: of its members' fingerprints and weights. */
  sha256: string;
  /** Ensemble only: each member, resolved, in spec order. */
  members?: ResolvedEmbedder[];
  /** Weights + recipe fingerprint a store is bound to (the detector's identity included). */
  fingerprint: string;
  /** The id of the detector whose faces it embeds (recorded with a store: src/app/store-model.ts). */
  detector: string;
}

export async function resolveBuiltin(builtinId: string): Promise<{ path: string; sha256: string }> {
  return prepareModel(builtinId);
}

/** Every embedder a user can pick: built-in ones first, then registered ones. */
export async function allEmbedders(): Promise<EmbedderSpec[]> {
  return [...BUILTIN_EMBEDDERS, ...(await listUserModels())];
}

export async function findEmbedderSpec(id: string = DEFAULT_EMBEDDER): Promise<EmbedderSpec> {
  const spec = (await allEmbedders()).find((s) => s.id === id);
  if (!spec) {
    const { allDetectors } = await import('../pipeline/detectors/registry.js');
    if ((await allDetectors()).some((d) => d.id === id))
      throw new FacectlError(ExitCode.MODEL_ERROR, `"${id}" is a detector, not an embedder: use it with --detector ${id}`);
    const known = (await allEmbedders()).map((s) => s.id).join(', ');
    if (userModelsNotUsed()) throw new FacectlError(ExitCode.MODEL_ERROR, `unknown model "${id}": your models are not used this run (their folder may not be trusted: see the warning above)`);
    throw new FacectlError(ExitCode.MODEL_ERROR, `unknown model "${id}" (known: ${known}; add one with \`facectl models add\`)`);
  }
  return spec;
}

export interface EmbedderOverrides {
  /** Embed the mirrored face too, or not, whatever the spec says (the fingerprint follows). */
  flip?: boolean;
}

/** The embedder `id`, its file, and its fingerprint when faces come from `detectorIdentity` (FaceDetector.identity). */
export async function resolveEmbedder(id: string = DEFAULT_EMBEDDER, detectorIdentity: string, overrides: EmbedderOverrides = {}, within: readonly string[] = []): Promise<ResolvedEmbedder> {
  // An ensemble that holds itself, directly or through another, would be resolved forever.
  if (within.includes(id)) throw new FacectlError(ExitCode.MODEL_ERROR, `ensemble "${within[0]}" holds itself (${[...within, id].join(' → ')})`);
  const found = await findEmbedderSpec(id);
  const spec = overrides.flip === undefined || overrides.flip === found.flip ? found : { ...found, flip: overrides.flip };
  if ('ensemble' in spec.source) {
    const declared = spec.members ?? [];
    const members: ResolvedEmbedder[] = [];
    for (const m of declared) members.push(await resolveEmbedder(m.id, detectorIdentity, { flip: spec.flip }, [...within, id]));
    const sha256 = ensembleSha256(members.map((m, i) => ({ id: m.spec.id, fingerprint: m.fingerprint, weight: declared[i]!.weight })));
    return { spec, path: '', sha256, members, fingerprint: embedderFingerprint(spec, sha256, detectorIdentity), detector: detectorIdOf(detectorIdentity) };
  }
  const file = 'builtin' in spec.source ? await prepareModel(spec.source.builtin) : await verifyUserModelFile(spec);
  return { spec, path: file.path, sha256: file.sha256, fingerprint: embedderFingerprint(spec, file.sha256, detectorIdentity), detector: detectorIdOf(detectorIdentity) };
}

/** An ensemble's stand-in for a weights sha256: its members, their fingerprints and weights, in spec order. */
export function ensembleSha256(members: readonly { id: string; fingerprint: string; weight: number }[]): string {
  return createHash('sha256').update(JSON.stringify(members.map((m) => [m.id, m.fingerprint, m.weight]))).digest('hex');
}

/** A detector identity is its id, plus `:<sha256 prefix>` for a user file. */
function detectorIdOf(identity: string): string {
  return identity.split(':')[0]!;
}
