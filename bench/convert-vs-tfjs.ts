/**
 * Converted ONNX models (onnxruntime-node, 1 and 2 intra-op threads, graph optimisation 'all') against
 * the original TF.js models (wasm backend, 1 thread, SIMD), side by side, on the same inputs:
 * agreement (max relative error, min cosine for embedders), single-image latency, batched throughput.
 *
 *   npx tsx bench/convert-vs-tfjs.ts [model ids...]      (npm run bench:models)
 *
 * Inputs are real LFW / face_recognition photos when ../shared/datasets exists, else a fixed pattern.
 * Results are printed and written to reports/models-bench/latest.json.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import ort from 'onnxruntime-node';
import { BUILTIN_MODEL_IDS, getBuiltinModel, isBuiltinModelId, type BuiltinModelId } from '../src/models/builtin.js';
import { prepareModel } from '../src/models/cache.js';
import { maxRelativeError, rowCosines } from '../test/models/compare.js';
import { realInputs } from '../test/models/face-crops.js';
import { hasDatasets, repoRoot } from '../test/helpers/shared.js';
import { loadTfjsWasm, runTfjsReference } from '../test/helpers/tfjs-reference.js';
import { median } from './lib/stats.js';

const BATCH = 8;
/** Timing rounds continue until this much time per engine has passed (or MAX_RUNS), after warm-up runs. */
const TIME_BUDGET_MS = 1000;
const MAX_RUNS = 40;
const WARMUP_RUNS = 2;

interface Timing {
  latencyMs: number;
  imagesPerSecond: number;
}

interface ModelResult {
  id: BuiltinModelId;
  onnxMiB: number;
  convertMs: number;
  maxRelativeError: number;
  minCosine?: number;
  ort1: Timing;
  ort2: Timing;
  tfjs: Timing;
}


/**
 * Median wall time (ms) of each function. The functions take turns within every round, so a change
 * in machine load (the CI box is shared) hits all engines alike instead of whichever ran last.
 */
async function timeInterleaved(fns: (() => Promise<unknown>)[]): Promise<number[]> {
  for (let i = 0; i < WARMUP_RUNS; i++) for (const fn of fns) await fn();
  const runs: number[][] = fns.map(() => []);
  const start = performance.now();
  while (runs[0]!.length < MAX_RUNS && (runs[0]!.length < 3 || performance.now() - start < TIME_BUDGET_MS * fns.length)) {
    for (const [i, fn] of fns.entries()) {
      const t = performance.now();
      await fn();
      runs[i]!.push(performance.now() - t);
    }
  }
  return runs.map(median);
}

/** A batch of `count` inputs: the real ones repeated, or a deterministic pattern without the datasets. */
async function benchInput(id: BuiltinModelId, count: number): Promise<{ data: Float32Array; per: number; real: { data: Float32Array; batch: number } }> {
  const model = getBuiltinModel(id);
  const size = model.input.dims[1] as number;
  const per = size * size * 3;
  const [lo, hi] = model.input.range;
  const real = hasDatasets
    ? await realInputs(id)
    : { data: Float32Array.from({ length: 2 * per }, (_, i) => lo + ((Math.sin(i * 0.37) + 1) / 2) * (hi - lo)), batch: 2 };
  const data = new Float32Array(count * per);
  for (let n = 0; n < count; n++) data.set(real.data.subarray((n % real.batch) * per, ((n % real.batch) + 1) * per), n * per);
  return { data, per, real };
}

async function benchModel(id: BuiltinModelId): Promise<ModelResult> {
  const model = getBuiltinModel(id);
  const size = model.input.dims[1] as number;
  const t0 = performance.now();
  await model.convert();
  const convertMs = performance.now() - t0;
  const prepared = await prepareModel(id);
  const { data, per, real } = await benchInput(id, BATCH);
  const dims = (n: number) => [n, size, size, 3];

  const sessions = await Promise.all(
    [1, 2].map((threads) =>
      ort.InferenceSession.create(prepared.path, { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' }),
    ),
  );
  const runOrt = (s: ort.InferenceSession, x: Float32Array, n: number) => s.run({ input: new ort.Tensor('float32', x, dims(n)) });

  // Agreement on the real inputs.
  const onnxOut = await runOrt(sessions[0]!, real.data, real.batch);
  const tfjsOut = await runTfjsReference(id, real.data, real.batch);
  let maxRel = 0;
  for (const out of model.outputs) maxRel = Math.max(maxRel, maxRelativeError(onnxOut[out.name]!.data as Float32Array, tfjsOut[out.name]!));
  const minCosine =
    model.kind === 'embedder'
      ? Math.min(...rowCosines(onnxOut.embedding!.data as Float32Array, tfjsOut.embedding!, model.outputs[0]!.dims[1] as number))
      : undefined;

  const one = data.subarray(0, per);
  const [ort1Ms, ort2Ms, tfjsMs] = await timeInterleaved([
    () => runOrt(sessions[0]!, one, 1),
    () => runOrt(sessions[1]!, one, 1),
    () => runTfjsReference(id, one, 1),
  ]);
  const [ort1Batch, ort2Batch, tfjsBatch] = await timeInterleaved([
    () => runOrt(sessions[0]!, data, BATCH),
    () => runOrt(sessions[1]!, data, BATCH),
    () => runTfjsReference(id, data, BATCH),
  ]);
  const timing = (latencyMs: number, batchMs: number): Timing => ({ latencyMs, imagesPerSecond: (1000 * BATCH) / batchMs });
  return {
    id,
    onnxMiB: statSync(prepared.path).size / 2 ** 20,
    convertMs,
    maxRelativeError: maxRel,
    minCosine,
    ort1: timing(ort1Ms!, ort1Batch!),
    ort2: timing(ort2Ms!, ort2Batch!),
    tfjs: timing(tfjsMs!, tfjsBatch!),
  };
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((id) => !isBuiltinModelId(id));
  if (unknown.length) throw new Error(`unknown model ${unknown.join(', ')} (known: ${BUILTIN_MODEL_IDS.join(', ')})`);
  const ids = requested.length ? requested.filter(isBuiltinModelId) : [...BUILTIN_MODEL_IDS];
  const tf = await loadTfjsWasm();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const loadBefore = os.loadavg()[0]!;
  console.log(
    `inputs: ${hasDatasets ? 'real photos from ../shared/datasets' : 'synthetic pattern (../shared/datasets not found)'}; batch ${BATCH}; ` +
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${loadBefore.toFixed(1)}; TF.js ${tf.version.tfjs} wasm, SIMD ${simd}, 1 thread`,
  );
  const results: ModelResult[] = [];
  for (const id of ids) {
    process.stdout.write(`${id}… `);
    results.push(await benchModel(id));
    process.stdout.write('done\n');
  }
  const table = new Table({
    head: ['model', 'max rel err', '1 − min cos', 'ORT 1t ms', 'ORT 2t ms', 'TF.js ms', 'TF.js / ORT 1t', `img/s @${BATCH}: ORT 1t / 2t / TF.js`, 'convert ms'],
    style: { head: [], border: [] },
  });
  for (const r of results) {
    table.push([
      r.id,
      r.maxRelativeError.toExponential(1),
      r.minCosine === undefined ? '' : (1 - r.minCosine).toExponential(1),
      r.ort1.latencyMs.toFixed(1),
      r.ort2.latencyMs.toFixed(1),
      r.tfjs.latencyMs.toFixed(1),
      `${(r.tfjs.latencyMs / r.ort1.latencyMs).toFixed(1)}×`,
      [r.ort1, r.ort2, r.tfjs].map((t) => t.imagesPerSecond.toFixed(0)).join(' / '),
      r.convertMs.toFixed(0),
    ]);
  }
  console.log(table.toString());
  const outDir = path.join(repoRoot, 'reports/models-bench');
  mkdirSync(outDir, { recursive: true });
  const loadAfter = os.loadavg()[0]!;
  console.log(`load average at the end: ${loadAfter.toFixed(1)} (timings on a busy machine are inflated; ratios are fairer: engines take turns)`);
  const report = { date: new Date().toISOString(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverage: [loadBefore, loadAfter], tfjsSimd: simd, realInputs: hasDatasets, batch: BATCH, results };
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))}`);
}

await main();
