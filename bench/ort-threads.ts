/**
 * npx tsx bench/ort-threads.ts — milliseconds per onnxruntime call of each built-in model on 1 intra-op
 * thread and on 2 (worker threads spinning within a run, facectl's default, and sleeping between ops),
 * with the session options facectl itself uses (src/pipeline/runtime.ts); the three take turns, median of
 * 7 rounds. It is how each model's thread count was chosen (`autoThreads` hints, src/pipeline/runtime.ts:
 * only RFB-320's landmark net keeps to one) and how spinning was.
 */
import os from 'node:os';
import ort from 'onnxruntime-node';
import type { BuiltinModelId } from '../src/models/builtin.js';
import { resolveBuiltin } from '../src/models/resolve.js';
import { configureRuntime, getSession, releaseSessions } from '../src/pipeline/runtime.js';
import { median } from './lib/stats.js';

const cases: [BuiltinModelId, number[]][] = [
  ['blazeface', [1, 256, 256, 3]],
  ['facemesh', [1, 192, 192, 3]],
  ['facemesh', [2, 192, 192, 3]],
  ['dlib-resnet', [2, 150, 150, 3]],
  ['mobilefacenet', [1, 112, 112, 3]],
  ['faceplugin', [1, 3, 112, 112]],
  ['rfb320', [1, 3, 240, 320]],
  ['fr-landmark', [1, 1, 64, 64]],
  ['mtcnn-onet', [4, 48, 48, 3]],
];
const setups = [
  { label: '1 thread', threads: 1, spinning: true },
  { label: '2 threads, sleeping', threads: 2, spinning: false },
  { label: '2 threads, spinning', threads: 2, spinning: true },
];
const rounds = 7;
console.log(`# onnxruntime-node ${ort.env.versions.common}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`| model | input | ${setups.map((s) => `${s.label} ms`).join(' | ')} |\n|---|---|${setups.map(() => '---:').join('|')}|`);
for (const [id, dims] of cases) {
  const { path } = await resolveBuiltin(id);
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => Math.random());
  const tensor = new ort.Tensor('float32', data, dims);
  const sessions = [];
  for (const s of setups) {
    configureRuntime({ threads: s.threads, spinning: s.spinning }); // the product's own session options, these forced
    const session = await getSession(path);
    const feeds = { [session.inputNames[0]!]: tensor };
    for (let i = 0; i < 5; i++) await session.run(feeds);
    sessions.push({ session, feeds, ms: [] as number[] });
  }
  for (let r = 0; r < rounds; r++)
    for (const s of sessions) {
      const runs = 20;
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await s.session.run(s.feeds);
      s.ms.push((performance.now() - t0) / runs);
    }
  await releaseSessions();
  console.log(`| ${id} | ${dims.join('×')} | ${sessions.map((s) => median(s.ms).toFixed(2)).join(' | ')} |`);
}
