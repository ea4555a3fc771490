/**
 * The user models folder and its registry, user-models.json: where `facectl models add` keeps its copies
 * and what it recorded about them. Trusted by the models cache's rule (cache-safety.ts; README: Privacy
 * and safety): the folder's root (FACECTL_USER_MODELS_DIR itself, or the XDG data home for the default
 * `…/facectl/models`) owned by this user or root and not writable by group or others, every folder below
 * it and every file read there too, and no symbolic links below the root. Unlike the cache, which is
 * only skipped, these are the user's registrations: whoever could write the folder could have replaced a
 * model, its thresholds or the registry (a 0777 folder let another user set thresholds of −1, and
 * `login` accepted a stranger), so every command that reads the registry refuses it (exit 13), naming
 * the folder or file and the fix.
 */
import { constants } from 'node:fs';
import { lstat, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeIoError, errnoCode, ExitCode, FacectlError } from '../errors.js';
import { xdgDir } from '../xdg.js';
import { ensureCacheDir, inspectCacheDir, type CacheRoot } from './cache-safety.js';
import { untrustedBecause } from '../file-trust.js';
import { sha256, writeFileAtomic } from './file-record.js';
import { externalDataProblem } from './onnx/external-data.js';
import { userModelsProblem } from './user-models-validate.js';
import type { DetectorSignature } from './model-router.js';
import type { EmbedderSpec } from './registry.js';

export function userModelsDir(): string {
  if (process.env.FACECTL_USER_MODELS_DIR) return path.resolve(process.env.FACECTL_USER_MODELS_DIR);
  // A relative XDG_DATA_HOME is ignored (xdg.ts): registered models must not depend on the current folder.
  return path.join(xdgDir('data'), 'facectl', 'models');
}

/** The root the trust rule starts from: FACECTL_USER_MODELS_DIR itself, else the XDG data home. Folders facectl makes for it are 0700. */
function userModelsRoot(): CacheRoot {
  const root = process.env.FACECTL_USER_MODELS_DIR ? userModelsDir() : xdgDir('data');
  return { path: root, mode: 0o700, betweenMode: 0o700, label: 'user models folder' };
}

export const registryFile = (): string => path.join(userModelsDir(), 'user-models.json');

/** A user model's id: also the name of its copy in the folder, so no path can be spelled with it. */
export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Where the copy of user model `id` is: always inside the user models folder, wherever the folder was moved. */
export const modelCopyPath = (id: string): string => path.join(userModelsDir(), `${id}.onnx`);

/** A user ONNX detector: its family picks the decoder (src/pipeline/detectors/onnx-detector.ts). */
export interface UserDetectorSpec {
  id: string;
  description: string;
  family: DetectorSignature['family'];
  source: { file: string; sha256: string };
  inputWidth: number;
  inputHeight: number;
}

export interface UserModelsFile {
  embedders: EmbedderSpec[];
  detectors: UserDetectorSpec[];
}

/** A user models folder or file someone else could have written (exit 13 where the registry is changed). */
export class UntrustedUserModelsError extends FacectlError {}

/** Exit 13: a folder or file of the user models that someone else could have written, with the fix. */
function untrusted(target: string, problem: string, what: 'folder' | 'file'): FacectlError {
  const fix = problem.startsWith('belongs')
    ? `\`chown\` it to yourself`
    : problem.startsWith('is writable')
      ? `\`chmod go-w\` it`
      : `replace it with a real ${what} of yours`;
  if (problem.startsWith('is not')) return new UntrustedUserModelsError(ExitCode.MODEL_ERROR, `user models ${what} ${problem} (${fix}, or \`facectl models remove\` the model and add it again)`, target);
  const check = what === 'folder' ? 'user-models.json and the model files in it' : 'it';
  return new UntrustedUserModelsError(
    ExitCode.MODEL_ERROR,
    `user models ${what} ${problem}: whoever can write it could have replaced a model or its thresholds; check ${check}, then ${fix} (README: Privacy and safety)`,
    target,
  );
}

/**
 * For reading: the folder exists and may be trusted ('ok'), or there is none ('missing': nothing is
 * registered); exit 13 when it exists and may not be trusted.
 */
export async function trustedUserModelsDir(): Promise<'ok' | 'missing'> {
  const dir = userModelsDir();
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) return 'missing';
  const state = await inspectCacheDir(dir, userModelsRoot());
  if (state.state === 'unsafe') throw untrusted(state.path, state.problem, 'folder');
  return state.state;
}

/**
 * For writing: makes the folder (0700, and the folders on the way) when missing, refuses it (exit 13)
 * when it may not be trusted, and makes a folder of this user's that others can read 0700.
 */
export async function writableUserModelsDir(): Promise<string> {
  const dir = userModelsDir();
  // Made 0700 only when others have any access: a folder its owner made read-only (0500) stays so.
  const state = await ensureCacheDir(dir, userModelsRoot(), 0o700, (mode) => (mode & 0o077) !== 0);
  if (state.state === 'unsafe') throw untrusted(state.path, state.problem, 'folder');
  return dir;
}

/**
 * A file of the user models folder, read only when it is a regular file (not a link, opened without
 * following one) that only this user or root can change; undefined when there is none.
 */
export async function readTrustedFile(file: string): Promise<Buffer | undefined> {
  const entry = await lstat(file).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot read it: ${describeIoError(err)}`, file);
  });
  if (!entry) return undefined;
  const first = untrustedBecause(entry, 'file');
  if (first) throw untrusted(file, first, 'file');
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    const problem = untrustedBecause(await handle.stat(), 'file');
    if (problem) throw untrusted(file, problem, 'file');
    return await handle.readFile();
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (errnoCode(err) === 'ELOOP') throw untrusted(file, 'is a symbolic link', 'file');
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot read it: ${describeIoError(err)}`, file);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** What to do about a damaged registry: every command refuses it, also those using built-in models only. */
const DAMAGED_FIX = ' (repair it, or move it away and `facectl models add` your models again)';

export async function readUserModels(): Promise<UserModelsFile> {
  if ((await trustedUserModelsDir()) === 'missing') return { embedders: [], detectors: [] };
  const file = registryFile();
  const bytes = await readTrustedFile(file);
  if (!bytes) return { embedders: [], detectors: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot read it: ${(err as Error).message}${DAMAGED_FIX}`, file);
  }
  const problem = userModelsProblem(parsed, MODEL_ID);
  if (problem) throw new FacectlError(ExitCode.MODEL_ERROR, `${problem}${DAMAGED_FIX}`, file);
  const checked = parsed as Partial<UserModelsFile>;
  const models = { embedders: checked.embedders ?? [], detectors: checked.detectors ?? [] };
  // The copy is always <folder>/<id>.onnx: a recorded `file` (written for older facectl versions) may name
  // another folder's copy (this folder copied or moved), which is never used nor deleted.
  for (const spec of [...models.embedders, ...models.detectors]) spec.source = { ...spec.source, file: modelCopyPath(spec.id) };
  return models;
}

export async function saveUserModels(models: UserModelsFile): Promise<void> {
  await writeFileAtomic(registryFile(), JSON.stringify({ version: 1, ...models }, null, 2) + '\n', 0o600);
}

let warned = false;

/** Whether this run is not using the user's models (their folder may not be trusted: warned once on stderr). */
export const userModelsNotUsed = (): boolean => warned;

/**
 * The registrations a command may use: readUserModels, except that a folder or file someone else could
 * have written is not used (as the models cache): one warning per run, and no user model or detector
 * exists for this run, so built-in models work and a user model's id is "unknown". Changing the registry
 * (models add / remove) and pruning what it keeps refuse such a folder instead (exit 13).
 */
async function usableUserModels(): Promise<UserModelsFile> {
  try {
    return await readUserModels();
  } catch (err) {
    if (!(err instanceof UntrustedUserModelsError)) throw err;
    if (!warned) process.stderr.write(`warning: your models (facectl models add) not used: ${err.oneLine()}\n`);
    warned = true;
    return { embedders: [], detectors: [] };
  }
}

export async function listUserModels(): Promise<EmbedderSpec[]> {
  return (await usableUserModels()).embedders;
}

export async function listUserDetectors(): Promise<UserDetectorSpec[]> {
  return (await usableUserModels()).detectors;
}

/**
 * The registered file, checked by the folder's rule, against the sha256 recorded when it was added, and
 * for weights in external data files (which onnxruntime would read from the working directory, unpinned
 * by the sha256: a file registered before `models add` refused them).
 */
export async function verifyUserModelFile(spec: Pick<EmbedderSpec, 'id' | 'source'>): Promise<{ path: string; sha256: string }> {
  if (!('file' in spec.source)) throw new Error('not a user model');
  await trustedUserModelsDir();
  const bytes = await readTrustedFile(spec.source.file);
  if (!bytes) throw new FacectlError(ExitCode.MODEL_ERROR, `model file of "${spec.id}" is missing: ${spec.source.file} (\`facectl models remove ${spec.id}\` first, then \`facectl models add\` it again)`);
  const sha = sha256(bytes);
  if (sha !== spec.source.sha256)
    throw new FacectlError(ExitCode.MODEL_ERROR, `model file of "${spec.id}" changed since it was added (sha256 mismatch): ${spec.source.file}`);
  const external = externalDataProblem(bytes);
  if (external) throw new FacectlError(ExitCode.MODEL_ERROR, `model "${spec.id}": ${external} (\`facectl models remove ${spec.id}\`, then \`facectl models add\` the re-saved file)`, spec.source.file);
  return { path: spec.source.file, sha256: sha };
}
