/**
 * onnxruntime-shaped sessions that run the original TF.js models (wasm backend) instead, so a benchmark
 * can put the same pipeline code on either engine and compare them side by side.
 */
import type ort from 'onnxruntime-node';
import { getBuiltinModel, type BuiltinModelId } from '../../src/models/builtin.js';
import { runTfjsReference } from '../../test/helpers/tfjs-reference.js';

export function tfjsSession(id: BuiltinModelId): ort.InferenceSession {
  const model = getBuiltinModel(id);
  const session = {
    inputNames: [model.input.name],
    outputNames: model.outputs.map((o) => o.name),
    async run(feeds: Record<string, ort.Tensor>) {
      const input = feeds[model.input.name]!;
      const batch = Number(input.dims[0]);
      const out = await runTfjsReference(id, input.data as Float32Array, batch);
      return Object.fromEntries(
        model.outputs.map((o) => [o.name, { data: out[o.name]!, dims: o.dims.map((d) => (d === 'N' ? batch : d)) }]),
      );
    },
  };
  return session as unknown as ort.InferenceSession;
}
