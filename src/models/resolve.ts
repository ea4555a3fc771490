/**
 * Model id → ready-to-load ONNX file. Built-in models are converted on first use (cache.ts); user models
 * are files registered with `facectl models add` (user-models.ts), checked against their recorded sha256.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { prepareModel } from './cache.js';
import { BUILTIN_EMBEDDERS, DEFAULT_EMBEDDER, embedderFingerprint, type EmbedderSpec } from './registry.js';
import { listUserModels, verifyUserModelFile } from './user-models.js';

export interface ResolvedEmbedder {
  spec: EmbedderSpec;
  path: string;
  sha256: string;
  /** Weights + recipe fingerprint a store is bound to. */
  fingerprint: string;
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
    const known = (await allEmbedders()).map((s) => s.id).join(', ');
    throw new FacectlError(ExitCode.MODEL_ERROR, `unknown model "${id}" (known: ${known}; add one with \`facectl models add\`)`);
  }
  return spec;
}

/** The embedder `id`, its file, and its fingerprint when faces come from `detectorIdentity` (FaceDetector.identity). */
export async function resolveEmbedder(id: string = DEFAULT_EMBEDDER, detectorIdentity: string): Promise<ResolvedEmbedder> {
  const spec = await findEmbedderSpec(id);
  const file = 'builtin' in spec.source ? await prepareModel(spec.source.builtin) : await verifyUserModelFile(spec);
  return { spec, path: file.path, sha256: file.sha256, fingerprint: embedderFingerprint(spec, file.sha256, detectorIdentity) };
}
