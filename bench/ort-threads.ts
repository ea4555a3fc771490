/**
 * npx tsx bench/ort-threads.ts — milliseconds per onnxruntime call of each built-in model for 1 and 2
 * intra-op threads, with the session options facectl itself uses (src/pipeline/runtime.ts). It is how each model's thread count was chosen
 * (src/models/registry.ts `autoThreads`).
 */
import os from 'node:os';
import ort from 'onnxruntime-node';
import { resolveBuiltin } from '../src/models/resolve.js';
import type { BuiltinModelId } from '../src/models/builtin.js';
import { configureRuntime, getSession, releaseSessions } from '../src/pipeline/runtime.js';

const cases: [BuiltinModelId, number[]][] = [
  ['blazeface', [1, 256, 256, 3]],
  ['facemesh', [1, 192, 192, 3]],
  ['facemesh', [2, 192, 192, 3]],
  ['dlib-resnet', [2, 150, 150, 3]],
];
console.log(`# onnxruntime-node ${ort.env.versions.common}, ${os.cpus().length} cores, allow_spinning 0\n`);
console.log('| model | input | 1 thread ms | 2 threads ms |\n|---|---|---:|---:|');
for (const [id, dims] of cases) {
  const { path } = await resolveBuiltin(id);
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => Math.random());
  const tensor = new ort.Tensor('float32', data, dims);
  const ms: string[] = [];
  for (const threads of [1, 2]) {
    configureRuntime({ threads }); // the product's own session options, thread count forced
    const s = await getSession(path);
    const feeds = { [s.inputNames[0]!]: tensor };
    for (let i = 0; i < 5; i++) await s.run(feeds);
    const runs = 40, t0 = performance.now();
    for (let i = 0; i < runs; i++) await s.run(feeds);
    ms.push(((performance.now() - t0) / runs).toFixed(2));
    await releaseSessions();
  }
  console.log(`| ${id} | ${dims.join('×')} | ${ms[0]} | ${ms[1]} |`);
}
