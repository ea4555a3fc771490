/**
 * Changing the user models folder under its lock: registering a model (`models add`, after user-models.ts
 * has inspected it) and unregistering one (`models remove`), with the cleaning both do (what a killed add
 * left, the models cache's files derived from a removed model).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describeIoError, errnoCode, ExitCode, FacectlError } from '../errors.js';
import { BUILTIN_MODEL_IDS } from './builtin.js';
import { derivedDirs } from './cache.js';
import { removeKilledTemps, writeFileAtomic } from './file-record.js';
import { forgetOptimized } from './onnx/optimized-cache.js';
import { forgetPreluRewrites } from './onnx/prelu-cache.js';
import { BUILTIN_EMBEDDERS, type EmbedderSpec } from './registry.js';
import { withUserModelsLock } from './user-models-lock.js';
import { MODEL_ID, modelCopyPath, readUserModels, registryFile, saveUserModels, trustedUserModelsDir, userModelsDir, writableUserModelsDir, type UserDetectorSpec, type UserModelsFile } from './user-models-registry.js';
import { userModelsProblem } from './user-models-validate.js';

/**
 * What ships with facectl (model files, landmarker and detector stages included; embedders, ensembles;
 * detectors): no user model may take one of these ids. The detector registry is imported when asked for:
 * it imports this module.
 */
async function builtinIds(): Promise<string[]> {
  const { BUILTIN_DETECTORS } = await import('../pipeline/detectors/registry.js');
  return [...BUILTIN_MODEL_IDS, ...BUILTIN_EMBEDDERS.map((s) => s.id), ...BUILTIN_DETECTORS.map((d) => d.id)];
}

/** The id is free: not a built-in's (which cannot be removed, so `models remove` is not suggested), nor a registered model's. */
export async function requireFreeId(id: string, existing: UserModelsFile): Promise<void> {
  if ((await builtinIds()).includes(id)) throw new FacectlError(ExitCode.USAGE, `"${id}" is a built-in model's id: choose another with --id`);
  if ([...existing.embedders, ...existing.detectors].some((s) => s.id === id))
    throw new FacectlError(ExitCode.USAGE, `a model named "${id}" already exists (choose another with --id, or \`facectl models remove ${id}\`)`);
}

/**
 * Records `spec` and its private copy (0600 in a 0700 folder, `<user models dir>/<id>.onnx`) under the
 * folder's lock: read, check the id is free, write the copy under a temporary name and rename it, save.
 * The new registry is checked as every command reads it first (user-models-validate.ts): an entry it
 * refuses, saved, would stop every command, built-in ones too, until user-models.json was hand-edited.
 */
export async function register<S extends EmbedderSpec | UserDetectorSpec>(spec: S, bytes: Uint8Array, list: keyof UserModelsFile, from: string): Promise<S> {
  return writing(async () => withUserModelsLock(await writableUserModelsDir(), async () => {
    const existing = await readUserModels();
    removeLeftovers();
    await requireFreeId(spec.id, existing);
    const next = { ...existing, [list]: [...existing[list], spec] };
    const problem = userModelsProblem(JSON.parse(JSON.stringify(next)), MODEL_ID);
    if (problem) throw new FacectlError(ExitCode.MODEL_ERROR, `not registered: user-models.json would be refused with it (${problem})`, from);
    const file = modelCopyPath(spec.id);
    await writeFileAtomic(file, bytes, 0o600);
    try {
      await saveUserModels(next);
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    return spec;
  }));
}

/**
 * A user models folder that cannot be written (permissions, a read-only or full disk, /proc) is one line
 * naming it, exit 11, as every output facectl cannot write; not an internal error.
 */
async function writing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof FacectlError || !errnoCode(err)) throw err;
    throw new FacectlError(ExitCode.STORE_ERROR, `cannot write the user models folder: ${describeIoError(err)}`, userModelsDir());
  }
}

/**
 * Unregister a user model and delete its copy. The registry is searched before the built-in ids, so a model added before a built-in of its name
 * shipped can still be removed; returns whether such a built-in remains.
 */
export async function removeUserModel(id: string): Promise<{ builtinRemains: boolean }> {
  // No folder: nothing registered, and nothing to lock (nor a folder to make for it).
  if ((await trustedUserModelsDir()) === 'missing') return unregister(id);
  return writing(async () => withUserModelsLock(await writableUserModelsDir(), () => unregister(id)));
}

/**
 * What a `models add` or `remove` killed mid-way left in the folder: the temporary file of a copy or of
 * user-models.json (`<id>.onnx.tmp-<pid>-<hex>`, a whole model), once its process is gone. Only names
 * facectl writes: the folder may be one the user keeps other files in (FACECTL_USER_MODELS_DIR), so an
 * `<id>.onnx` no entry names (a kill between the copy's rename and the registry's save) is left alone (an
 * add of that id replaces it). Cleaning only: errors are ignored.
 */
function removeLeftovers(): void {
  removeKilledTemps(userModelsDir(), (target) => target === path.basename(registryFile()) || (target.endsWith('.onnx') && MODEL_ID.test(target.slice(0, -5))));
}

async function unregister(id: string): Promise<{ builtinRemains: boolean }> {
  const existing = await readUserModels();
  removeLeftovers();
  const spec = existing.embedders.find((s) => s.id === id) ?? existing.detectors.find((s) => s.id === id);
  const builtin = (await builtinIds()).includes(id);
  if (!spec && builtin) throw new FacectlError(ExitCode.USAGE, `${id} is built in and cannot be removed`);
  if (!spec) throw new FacectlError(ExitCode.MODEL_ERROR, `no user model named "${id}"`);
  const rest = { embedders: existing.embedders.filter((s) => s.id !== id), detectors: existing.detectors.filter((s) => s.id !== id) };
  await saveUserModels(rest);
  if ('file' in spec.source) {
    await rm(modelCopyPath(spec.id), { force: true }); // inside this folder only, whatever the entry recorded
    const sha = spec.source.sha256;
    if (![...rest.embedders, ...rest.detectors].some((s) => 'sha256' in s.source && s.source.sha256 === sha)) await forgetDerivedFiles(sha);
  }
  return { builtinRemains: builtin };
}

/**
 * What facectl derived from a removed model's file in the models cache: its PRelu rewrites and
 * onnxruntime's optimized graphs of it and of them. Only a cache (the model is gone), but made from the
 * user's file, so it goes with it.
 */
async function forgetDerivedFiles(sha256: string): Promise<void> {
  const dirs = derivedDirs();
  const rewrites = await forgetPreluRewrites(dirs.prelu, sha256, dirs.root);
  await forgetOptimized(dirs.ort, [sha256, ...rewrites], dirs.root);
}
