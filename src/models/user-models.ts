/**
 * User-supplied models (`facectl models add <file.onnx | file.tflite>`; a TFLite file is converted to
 * ONNX first, tflite/user-tflite.ts, and the converted file is what is kept). An embedder is recognised by its shape:
 * one image input of 112×112 (NCHW or NHWC) and one output vector — what an insightface ArcFace or a
 * GhostFaceNet export looks like. It is aligned with the ArcFace 112 template and normalised with
 * (x − 127.5) / 127.5 unless the user says otherwise. The file is copied into the user models directory
 * (private, 0600) and recorded with its sha256 in user-models.json. A file exported with a fixed batch
 * (PyTorch's default) is rewritten to take any batch when that is proved to change nothing, else run at
 * its batch; a file that cannot run is refused here (exit 13), never later as an internal error.
 * Detectors (SCRFD, YOLOv5-face) are recognised by their outputs (model-router.ts) and kept as given.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { errnoCode, errorLine, ExitCode, FacectlError, ModelError } from '../errors.js';
import { fileKind } from '../file-kind.js';
import { onnxruntimeReason } from '../pipeline/runtime.js';
import { proveBatchRewrite, quietSession, tryRunOutputs } from './batch-check.js';
import { sha256 } from './file-record.js';
import { register, requireFreeId } from './user-models-registration.js';
import { MODEL_ID, modelCopyPath, readUserModels, type UserDetectorSpec } from './user-models-registry.js';
import { USER_MODEL_LIMITS } from './user-models-validate.js';
import { detectorSignature, isTfliteFile, type DetectorSignature } from './model-router.js';
import { externalDataProblem } from './onnx/external-data.js';
import type { freeBatch } from './onnx/free-batch.js';
import { type EmbedderSpec, type Layout } from './registry.js';
import { arcfaceTemplate } from './templates.js';

export { removeUserModel } from './user-models-registration.js';
export { listUserDetectors, listUserModels, readUserModels, userModelsDir, userModelsNotUsed, verifyUserModelFile, type UserDetectorSpec } from './user-models-registry.js';

/** The fewest numbers per face taken as an embedding: face embedders give 64 to 4096; a 1- or 2-number output is a classifier. */
const MIN_EMBEDDING_DIM = 32;

export type InspectedModel =
  | {
      kind: 'embedder';
      layout: Layout;
      inputSize: number;
      /** The input's batch when the file fixes it, else null. */
      fixedBatch: number | null;
      /** The output's numbers per face when the file fixes them, else null (known once it runs). */
      dim: number | null;
    }
  | DetectorSignature;

/** Recognise what an ONNX file is from its inputs and outputs. */
export async function inspectOnnx(bytes: Uint8Array, file: string): Promise<InspectedModel> {
  let session: ort.InferenceSession;
  try {
    session = await quietSession(bytes);
  } catch (err) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `not a loadable ONNX model: ${onnxruntimeReason(err)}`, file);
  }
  try {
    const inputs = session.inputMetadata.filter((m) => m.isTensor);
    const outputs = session.outputMetadata.filter((m) => m.isTensor);
    const shape = (m: ort.InferenceSession.ValueMetadata) => (m.isTensor ? m.shape : []);
    if (inputs.length !== 1) throw new FacectlError(ExitCode.MODEL_ERROR, `expected one image input, found ${inputs.length}`, file);
    // facectl feeds and reads float32: a float16 output read as float32 would be its raw bits, silently wrong.
    const other = [...inputs, ...outputs].find((m) => m.isTensor && m.type !== 'float32');
    if (other?.isTensor)
      throw new FacectlError(ExitCode.MODEL_ERROR, `${inputs.includes(other) ? 'input' : 'output'} "${other.name}" is ${other.type}; facectl runs float32 models only (export it with float32 inputs and outputs)`, file);
    const dims = shape(inputs[0]!);
    const detector = detectorSignature(dims, outputs.map(shape), file);
    if (detector) {
      const { min, max } = USER_MODEL_LIMITS.detectorInput;
      for (const side of [detector.inputWidth, detector.inputHeight])
        if (side < min || side > max)
          throw new FacectlError(ExitCode.MODEL_ERROR, `a detector input of ${detector.inputWidth}×${detector.inputHeight} pixels: facectl runs detectors at ${min} to ${max} pixels a side`, file);
      return detector;
    }
    if (dims.length !== 4) throw new FacectlError(ExitCode.MODEL_ERROR, `input is not an image batch (shape ${JSON.stringify(dims)})`, file);
    let layout: Layout;
    if (dims[1] === 3 && dims[2] === dims[3]) layout = 'NCHW';
    else if (dims[3] === 3 && dims[1] === dims[2]) layout = 'NHWC';
    else throw new FacectlError(ExitCode.MODEL_ERROR, `cannot tell the image layout of input shape ${JSON.stringify(dims)}`, file);
    const inputSize = Number(layout === 'NCHW' ? dims[2] : dims[1]);
    if (outputs.length !== 1) throw new FacectlError(ExitCode.MODEL_ERROR, `expected an embedder with one output, found ${outputs.length} outputs`, file);
    const out = shape(outputs[0]!);
    if (out.length !== 2) throw new FacectlError(ExitCode.MODEL_ERROR, `output is not a vector (shape ${JSON.stringify(out)})`, file);
    if (inputSize !== 112)
      throw new FacectlError(ExitCode.MODEL_ERROR, `a ${inputSize}×${inputSize} input is not an ArcFace-style 112×112 embedder`, file);
    const batch = dims[0], perFace = out[1];
    const fixedBatch = typeof batch === 'number' && batch > 0 ? batch : null;
    // Before anything runs it: a fixed batch is checked on 2·B + 1 rows (B = 4097: 2.5 GB and a minute).
    if (fixedBatch !== null && fixedBatch > USER_MODEL_LIMITS.fixedBatch.max)
      throw new FacectlError(
        ExitCode.MODEL_ERROR,
        `its input's batch is fixed at ${fixedBatch}: facectl runs at most ${USER_MODEL_LIMITS.fixedBatch.max} faces at a time (export it with a dynamic batch, or a fixed one of at most ${USER_MODEL_LIMITS.fixedBatch.max})`,
        file,
      );
    const dim = typeof perFace === 'number' && perFace > 0 ? perFace : null;
    if (dim !== null) requireDimWithinLimit(dim, file);
    return { kind: 'embedder', layout, inputSize, fixedBatch, dim };
  } finally {
    await session.release();
  }
}

/** An embedding of more numbers per face than user-models.json may record (a dynamic one is known once it has run). */
function requireDimWithinLimit(dim: number, file: string): void {
  if (dim > USER_MODEL_LIMITS.dim.max)
    throw new FacectlError(ExitCode.MODEL_ERROR, `its output has ${dim} numbers per face: facectl takes embeddings of at most ${USER_MODEL_LIMITS.dim.max}`, file);
}

/**
 * A file with a fixed batch: free it (onnx/free-batch.ts) and keep the result only when it is proved to
 * give what the file gives; otherwise the faces are run `fixedBatch` at a time.
 */
async function settleBatch(bytes: Uint8Array, fixedBatch: number, imageDims: number[]): Promise<{ bytes: Uint8Array; fixedBatch?: number; note: string }> {
  const { freeBatch: free } = await import('./onnx/free-batch.js');
  let rewrite: ReturnType<typeof freeBatch>;
  try {
    rewrite = free(bytes);
  } catch {
    rewrite = { kind: 'unsupported', fixedBatch, reason: 'the file could not be rewritten' };
  }
  if (rewrite.kind === 'rewritten') {
    const proof = await proveBatchRewrite(bytes, rewrite.bytes, fixedBatch, imageDims).catch(() => null);
    if (proof?.equal) return { bytes: rewrite.bytes, note: `batch ${fixedBatch} freed, proved equal (max rel. error ${proof.maxRelativeError.toExponential(1)})` };
  }
  if (rewrite.kind === 'dynamic') return { bytes, note: '' };
  return { bytes, fixedBatch, note: `fixed batch ${fixedBatch}: faces run ${fixedBatch} at a time` };
}

/**
 * Why the probe faces' output rows (different inputs) cannot be embeddings: a value that is not finite, a
 * row of zeros (no direction), or rows identical to the bit (an output that ignores its input); undefined
 * when none. `verify` said SAME 1.0000 for two different people with such a model.
 */
export function uselessOutput(data: Float32Array, rows: number, dim: number): string | undefined {
  if (data.some((v) => !Number.isFinite(v))) return 'its output holds values that are not finite numbers (NaN or infinity)';
  const row = (i: number) => data.subarray(i * dim, (i + 1) * dim);
  for (let i = 0; i < rows; i++) if (row(i).every((v) => v === 0)) return 'its output is all zeros for a face';
  if (rows > 1 && Array.from({ length: rows - 1 }, (_, i) => i + 1).every((i) => row(i).every((v, d) => Object.is(v, row(0)[d])))) return 'its output is the same for different faces (it ignores its input)';
  return undefined;
}

/** The most bytes read: Node's own limit for one read (2 GiB), more than onnxruntime takes from bytes. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

/**
 * The model file's bytes, when it is a regular file (links followed) of at most 2 GiB; USAGE for anything
 * else, said what it is, before reading: `models add /dev/zero` read without end (8 GB and growing) and a
 * FIFO nobody writes blocked for ever. Looked at by its path first (nothing else is opened: opening a
 * device can do something), then opened without blocking and checked again on the open file.
 */
async function readModelFile(file: string): Promise<Uint8Array> {
  const cannotRead = (err: unknown) => new FacectlError(ExitCode.NOT_FOUND, `cannot read the model file (${errnoCode(err) ?? errorLine(err)})`, file);
  const check = (st: Stats) => {
    if (!st.isFile()) throw new FacectlError(ExitCode.USAGE, `${fileKind(st)}, not a model file`, file);
    if (st.size > MAX_MODEL_BYTES) throw new FacectlError(ExitCode.MODEL_ERROR, 'the model file is over 2 GiB, more than facectl can load', file);
  };
  check(await stat(file).catch((err: unknown) => { throw cannotRead(err); }));
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw cannotRead(err);
  }
  try {
    check(await handle.stat());
    return await handle.readFile();
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    if (errnoCode(err) === 'ERR_FS_FILE_TOO_LARGE') throw new FacectlError(ExitCode.MODEL_ERROR, 'the model file is over 2 GiB, more than facectl can load', file);
    throw cannotRead(err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export interface AddModelOptions {
  id?: string;
  mean?: number;
  std?: number;
  channels?: 'RGB' | 'BGR';
  flip?: boolean;
}

/**
 * Register an ONNX embedder (inspect it, free its batch if fixed, check it runs) or detector (check it
 * runs at its input size); copy it in privately, record its spec.
 */
export async function addUserModel(file: string, opts: AddModelOptions = {}): Promise<EmbedderSpec | UserDetectorSpec> {
  let original = await readModelFile(file);
  // A .tflite file is converted to ONNX first; the converted file is then handled (and kept) as any other.
  const tflite = isTfliteFile(original) ? (await import('./tflite/user-tflite.js')).convertUserTflite(original, file) : undefined;
  if (tflite) original = tflite.bytes;
  // Before any session: from bytes, onnxruntime reads an external data file from the working directory.
  const external = externalDataProblem(original);
  if (external) throw new FacectlError(ExitCode.MODEL_ERROR, external, file);
  const inspected = await inspectOnnx(original, file);
  const id = opts.id ?? path.basename(file).replace(/\.(onnx|tflite)$/i, '').replace(/[^A-Za-z0-9._-]/g, '-');
  if (!MODEL_ID.test(id)) throw new FacectlError(ExitCode.USAGE, `invalid model id "${id}" (letters, digits, . _ -; use --id)`);
  // Checked now to fail before the slow checks, and again under the lock.
  await requireFreeId(id, await readUserModels());
  if (inspected.kind === 'detector') return addUserDetector(file, id, original, inspected);
  const size = inspected.inputSize;
  const imageDims = inspected.layout === 'NCHW' ? [3, size, size] : [size, size, 3];
  const settled = inspected.fixedBatch === null ? { bytes: original, note: '' } : await settleBatch(original, inspected.fixedBatch, imageDims);
  // It must run: at its fixed batch; else on the rows of one face (two with the mirrored view), what verify,
  // login and eval run each time, and at 2 to show that a dynamic batch really is one.
  const views = (opts.flip ?? true) ? 2 : 1;
  let dim = 0;
  for (const batch of settled.fixedBatch ? [settled.fixedBatch] : [...new Set([views, 2])]) {
    let outputs: Awaited<ReturnType<typeof tryRunOutputs>>;
    try {
      outputs = await tryRunOutputs(settled.bytes, batch, imageDims);
    } catch (err) {
      throw new FacectlError(ExitCode.MODEL_ERROR, `the model cannot run on ${batch} face(s): ${onnxruntimeReason(err)}`, file);
    }
    const vector = outputs.find((t) => t.dims.length === 2 && t.dims[0] === batch && t.dims[1]! > 0);
    if (!vector) throw new FacectlError(ExitCode.MODEL_ERROR, `no [${batch}, D] embedding output (it gave ${outputs.map((t) => `[${t.dims}]`).join(', ')})`, file);
    dim = vector.dims[1]!;
    const useless = uselessOutput(vector.data, batch, dim);
    if (useless) throw new FacectlError(ExitCode.MODEL_ERROR, `${useless}: not an embedding (every face would match every other)`, file);
  }
  requireDimWithinLimit(dim, file);
  if (dim < MIN_EMBEDDING_DIM)
    throw new FacectlError(
      ExitCode.MODEL_ERROR,
      `its output has ${dim} number(s) per face: a classifier's or a score's (liveness, anti-spoofing), not a face embedding, which has dozens to thousands (at least ${MIN_EMBEDDING_DIM} here); as an embedder it would match everyone to everyone`,
      file,
    );

  // A graph that normalises its input itself takes raw pixels, unless the user says otherwise.
  const { normalisesInputItself } = await import('./onnx/input-normalisation.js');
  const rawPixels = !tflite && opts.mean === undefined && opts.std === undefined && normalisesInputItself(settled.bytes);
  const copy = { file: modelCopyPath(id), sha256: sha256(settled.bytes) };
  const kind = tflite ? 'TFLite embedder, converted to ONNX,' : 'ONNX embedder';
  const spec: EmbedderSpec = {
    id,
    description: `user ${kind} ${path.basename(file)} (${inspected.layout}, ${size}×${size}, ${dim}-d${settled.note ? `; ${settled.note}` : ''}${rawPixels ? '; the graph normalises its input itself (Sub, Mul first): fed 0..255' : ''})`,
    origin: 'user',
    source: tflite ? { ...copy, convertedFrom: tflite.origin } : copy,
    inputSize: size,
    layout: inspected.layout,
    channels: opts.channels ?? 'RGB',
    mean: opts.mean ?? (rawPixels ? 0 : 127.5),
    std: opts.std ?? (rawPixels ? 1 : 127.5),
    template: arcfaceTemplate(size),
    dim,
    flip: opts.flip ?? true,
    // Generic ArcFace-style values (cosine of 512-d ArcFace embeddings); calibrate on real data.
    thresholds: {
      verify: { value: 0.3, provenance: 'generic ArcFace-style default; run `facectl eval --calibrate` for this model' },
      login: { value: 0.4, provenance: 'generic ArcFace-style default; run `facectl eval --calibrate --target-fpir 1e-2` for this model' },
    },
    ...(settled.fixedBatch ? { fixedBatch: settled.fixedBatch } : {}),
  };
  return register(spec, settled.bytes, 'embedders', file);
}

async function addUserDetector(file: string, id: string, bytes: Uint8Array, d: DetectorSignature): Promise<UserDetectorSpec> {
  let outputs: Awaited<ReturnType<typeof tryRunOutputs>>;
  try {
    outputs = await tryRunOutputs(bytes, 1, [3, d.inputHeight, d.inputWidth]);
  } catch (err) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `the detector cannot run on a ${d.inputWidth}×${d.inputHeight} image: ${onnxruntimeReason(err)}`, file);
  }
  // Decoded once here, so that outputs no decoding can use (anchor counts that fit no grid of this input) are
  // refused now instead of failing every later detect.
  const { decodeDetectorOutputs } = await import('../pipeline/detectors/onnx-detector.js');
  try {
    decodeDetectorOutputs(d.family, outputs, d.inputWidth, d.inputHeight, id);
  } catch (err) {
    throw new FacectlError(ExitCode.MODEL_ERROR, `its outputs cannot be decoded as ${d.family}: ${err instanceof ModelError ? err.reason : errorLine(err)}`, file);
  }
  const copy = { file: modelCopyPath(id), sha256: sha256(bytes) };
  const spec: UserDetectorSpec = {
    id,
    description: `user ONNX detector ${path.basename(file)} (${d.family}, ${d.inputWidth}×${d.inputHeight})`,
    family: d.family,
    source: copy,
    inputWidth: d.inputWidth,
    inputHeight: d.inputHeight,
  };
  return register(spec, bytes, 'detectors', file);
}
