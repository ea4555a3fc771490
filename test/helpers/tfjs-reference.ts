/**
 * Reference runner: the original models on TF.js with the wasm backend (1 thread, SIMD), in Node.
 * Used by the conversion tests and `bench/convert-vs-tfjs.ts` to prove the ONNX files equal TF.js.
 *
 * - Human graph models load with tf.loadGraphModel through an in-memory IO handler.
 * - The dlib ResNet runs face-api's own FaceRecognitionNet (dist/face-api.node-wasm.js) on the same tfjs
 *   instance, its weights decoded by tfjs's io.decodeWeights and handed over with loadFromWeightMap.
 * Everything is loaded through CommonJS require so face-api and this file share one tfjs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { getBuiltinModel, type BuiltinModelId } from '../../src/models/builtin.js';

const require = createRequire(import.meta.url);

type Tf = typeof import('@tensorflow/tfjs');
type TfTensor = import('@tensorflow/tfjs').Tensor;
type GraphModel = import('@tensorflow/tfjs').GraphModel;

interface FaceRecognitionNetLike {
  loadFromWeightMap(weightMap: Record<string, TfTensor>): void;
  /** Takes one image tensor or an array of [150,150,3] images (a batch). */
  forward(input: TfTensor | TfTensor[]): Promise<TfTensor>;
}

let tfReady: Promise<Tf> | undefined;

/**
 * tfjs-backend-wasm fetches its .wasm with the platform fetch, which in Node cannot read local files:
 * answer absolute paths from disk and leave every other request to the real fetch.
 */
function installLocalFileFetch(): void {
  const original = globalThis.fetch;
  if ((original as { localFiles?: boolean }).localFiles) return;
  const localFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const file = url.startsWith('file://') ? new URL(url).pathname : url;
    if (path.isAbsolute(file)) return new Response(readFileSync(file), { headers: { 'Content-Type': 'application/wasm' } });
    return original(input, init);
  };
  globalThis.fetch = Object.assign(localFetch, { localFiles: true }) as typeof fetch;
}

/** tfjs on the wasm backend, initialised once per process. */
export function loadTfjsWasm(): Promise<Tf> {
  tfReady ??= (async () => {
    installLocalFileFetch();
    const tf = require('@tensorflow/tfjs') as Tf;
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
    wasm.setWasmPaths(wasmDir, true);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    return tf;
  })();
  return tfReady;
}

const graphModels = new Map<string, Promise<GraphModel>>();

async function loadGraphModel(tf: Tf, modelJsonPath: string): Promise<GraphModel> {
  let model = graphModels.get(modelJsonPath);
  if (!model) {
    const json = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
    const dir = path.dirname(modelJsonPath);
    const handler = {
      load: () =>
        tf.io.getModelArtifactsForJSON(json, async (manifest) => {
          const buffers = manifest.flatMap((group) => group.paths.map((p) => readFileSync(path.join(dir, p))));
          const bytes = Buffer.concat(buffers);
          return [tf.io.getWeightSpecs(manifest), bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)];
        }),
    };
    model = tf.loadGraphModel(handler);
    graphModels.set(modelJsonPath, model);
  }
  return model;
}

let faceRecognitionNet: Promise<FaceRecognitionNetLike> | undefined;

async function loadFaceRecognitionNet(tf: Tf): Promise<FaceRecognitionNetLike> {
  faceRecognitionNet ??= (async () => {
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
      FaceRecognitionNet: new () => FaceRecognitionNetLike;
    };
    const [manifestPath] = getBuiltinModel('dlib-resnet').sources;
    const manifest = JSON.parse(readFileSync(manifestPath!, 'utf8')) as { paths: string[]; weights: unknown[] }[];
    const net = new faceapi.FaceRecognitionNet();
    const weightMap: Record<string, TfTensor> = {};
    for (const group of manifest) {
      const bytes = Buffer.concat(group.paths.map((p) => readFileSync(path.join(path.dirname(manifestPath!), p))));
      const decoded = tf.io.decodeWeights(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
        group.weights as Parameters<Tf['io']['decodeWeights']>[1],
      );
      Object.assign(weightMap, decoded);
    }
    net.loadFromWeightMap(weightMap);
    return net;
  })();
  return faceRecognitionNet;
}

/**
 * Runs built-in model `id` on TF.js. `input` is the NHWC batch exactly as the ONNX model takes it
 * ([batch, size, size, 3], same value range). Returns each output under its ONNX output name.
 */
export async function runTfjsReference(id: BuiltinModelId, input: Float32Array, batch: number): Promise<Record<string, Float32Array>> {
  const tf = await loadTfjsWasm();
  const model = getBuiltinModel(id);
  const [, h, w, c] = model.input.dims as [string, number, number, number];
  const x = tf.tensor4d(input, [batch, h, w, c]);
  try {
    if (!model.tfjs) {
      // dlib-resnet: face-api's forward() takes RGB 0..255 and normalises itself, like the ONNX graph.
      // It takes a batch as an array of [150,150,3] images (already the input size: no resize).
      const net = await loadFaceRecognitionNet(tf);
      const images = tf.unstack(x);
      const y = await net.forward(images);
      tf.dispose(images);
      const data = (await y.data()) as Float32Array;
      y.dispose();
      return { embedding: data };
    }
    const graph = await loadGraphModel(tf, model.tfjs.modelJson);
    // Some graphs froze their batch at 1 (blazeface): run those one image at a time.
    const perCall = graph.inputs[0]?.shape?.[0] === 1 ? 1 : batch;
    const parts: Record<string, Float32Array[]> = {};
    for (let start = 0; start < batch; start += perCall) {
      const slice = perCall === batch ? x : x.slice([start, 0, 0, 0], [perCall, h, w, c]);
      const executed = graph.execute(slice, model.tfjs.outputs.map((o) => o.tf));
      const outs = Array.isArray(executed) ? executed : [executed];
      for (const [i, o] of model.tfjs.outputs.entries()) (parts[o.name] ??= []).push((await outs[i]!.data()) as Float32Array);
      tf.dispose(outs);
      if (slice !== x) slice.dispose();
    }
    const result: Record<string, Float32Array> = {};
    for (const [name, chunks] of Object.entries(parts)) {
      result[name] = new Float32Array(chunks.reduce((n, a) => n + a.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        result[name].set(chunk, offset);
        offset += chunk.length;
      }
    }
    return result;
  } finally {
    x.dispose();
  }
}
