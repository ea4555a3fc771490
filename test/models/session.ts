/** onnxruntime helpers shared by the model tests (one thread: the CI machine has two cores). */
import ort from 'onnxruntime-node';

export const createSession = (bytes: Uint8Array | string): Promise<ort.InferenceSession> =>
  ort.InferenceSession.create(bytes as Uint8Array, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 });

/** Runs a single-input NHWC session; returns every output by name. */
export async function runSession(session: ort.InferenceSession, input: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}
