/**
 * npm run bench:pipeline — per-stage milliseconds per image and images/s of the whole pipeline
 * (decode → detect → landmarks → align → embed), on onnxruntime-node and, side by side in the same
 * run, the same pipeline code with the original TF.js models on the wasm backend (dlib-resnet only: the
 * other embedders have no TF.js original; `--model` picks the embedder, default dlib-resnet).
 *
 *   npx tsx bench/pipeline.ts [--images 60] [--rounds 3] [--threads 0] [--model dlib-resnet] [--no-tfjs] [--json out.json] [--no-spin] [--prelu-unfolded] [--prelu-as-is]
 * --no-spin adds the onnxruntime pipeline with worker threads that sleep between ops (`onnxruntime-node/no-spin`),
 * against the default where they spin within a run (src/pipeline/runtime.ts), alternating rounds;
 * --prelu-unfolded / --prelu-as-is add the PRelu variants the same way (bench/lib/runtime-variants.ts).
 * Images: LFW photos (250×250, one per person) from ../shared/datasets, or FACECTL_SHARED.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { resolveEmbedder } from '../src/models/resolve.js';
import { BlazeFaceDetector } from '../src/pipeline/detectors/blazeface.js';
import { FaceEmbedder } from '../src/pipeline/embedder.js';
import { FacePipeline } from '../src/pipeline/pipeline.js';
import { configureRuntime } from '../src/pipeline/runtime.js';
import { datasetsDir } from '../test/helpers/shared.js';
import { DEFAULT_RUNTIME, runtimeVariants } from './lib/runtime-variants.js';
import { tfjsSession } from './lib/tfjs-sessions.js';
import { arg } from './lib/args.js';

const count = Number(arg('images', '60'));
const rounds = Number(arg('rounds', '3'));
const model = arg('model', 'dlib-resnet');
const withTfjs = !process.argv.includes('--no-tfjs') && model === 'dlib-resnet';
configureRuntime({ threads: Number(arg('threads', '0')) });

const lfw = path.join(datasetsDir, 'lfw');
const people = readdirSync(lfw).filter((d) => !d.includes('.')).sort();
const step = Math.max(1, Math.floor(people.length / count));
const images = people.filter((_, i) => i % step === 0).slice(0, count).map((p) => path.join(lfw, p, `${p}_0001.jpg`));

const engines: { name: string; pipeline: FacePipeline }[] = [];
for (const variant of runtimeVariants(process.argv)) {
  configureRuntime(variant.options); // sessions are keyed on it: each variant runs its own
  engines.push({ name: `onnxruntime-node${variant.suffix}`, pipeline: await FacePipeline.load({ embedder: model }) });
}
configureRuntime(DEFAULT_RUNTIME.options);
if (withTfjs) {
  const resolved = await resolveEmbedder('dlib-resnet', 'blazeface');
  const detector = new BlazeFaceDetector(tfjsSession('blazeface'), tfjsSession('facemesh'), ort.Tensor, 256);
  const embedder = new FaceEmbedder(resolved.spec, tfjsSession('dlib-resnet'), ort.Tensor);
  engines.push({ name: 'tfjs-wasm', pipeline: FacePipeline.assemble(detector, embedder, resolved) });
}

// Garbage one engine leaves (TF.js makes plenty) must not be collected on the other's clock: settle it
// before every timed round (npm run bench:pipeline starts node with --expose-gc).
const settle = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function runOnce(p: FacePipeline): Promise<number> {
  settle();
  const t0 = performance.now();
  for (const f of images) await p.processFile(f, 'largest');
  return performance.now() - t0;
}

// Warm up every engine (session creation, JIT), then alternate engines round by round so machine noise hits both.
async function warmUp(pl: FacePipeline): Promise<void> {
  for (const f of images.slice(0, 3)) await pl.processFile(f, 'largest');
  pl.timer.reset();
}
for (const e of engines) await warmUp(e.pipeline);
const totals = new Map<string, number>();
for (let r = 0; r < rounds; r++) for (const e of engines) totals.set(e.name, (totals.get(e.name) ?? 0) + (await runOnce(e.pipeline)));

const stages = ['decode', 'detect', 'landmarks', 'align', 'embed'] as const;
const n = images.length * rounds;
const rows = engines.map((e) => {
  const perStage = Object.fromEntries(stages.map((s) => [s, (e.pipeline.timer.totals.get(s) ?? 0) / n]));
  const msPerImage = totals.get(e.name)! / n;
  return { engine: e.name, msPerImage, imagesPerSecond: 1000 / msPerImage, perStage };
});
console.log(`# pipeline benchmark: ${images.length} LFW images × ${rounds} rounds, ${os.cpus().length} cores, threads=${arg('threads', '0')} (0 = onnxruntime default)\n`);
console.log(`| engine | ${stages.join(' ms | ')} ms | total ms/image | images/s |`);
console.log(`|---|${stages.map(() => '---:').join('|')}|---:|---:|`);
for (const r of rows) console.log(`| ${r.engine} | ${stages.map((s) => r.perStage[s]!.toFixed(1)).join(' | ')} | ${r.msPerImage.toFixed(1)} | ${r.imagesPerSecond.toFixed(1)} |`);
const tfjsRow = rows.find((r) => r.engine === 'tfjs-wasm');
if (tfjsRow) {
  const [o, t] = [rows[0]!, tfjsRow];
  console.log(`\nend to end: onnxruntime-node is ${(t.msPerImage / o.msPerImage).toFixed(1)}× faster than TF.js wasm (same run, alternating rounds)`);
  const model = (s: 'detect' | 'landmarks' | 'embed') => (t.perStage[s]! / o.perStage[s]!).toFixed(1);
  console.log(`per stage: detect ${model('detect')}×, landmarks ${model('landmarks')}×, embed ${model('embed')}×`);
}
const sleepRow = rows.find((r) => r.engine.endsWith('/no-spin'));
if (sleepRow) console.log(`\nspinning within a run: ${(sleepRow.msPerImage / rows[0]!.msPerImage).toFixed(2)}× faster end to end, embed ${(sleepRow.perStage.embed! / rows[0]!.perStage.embed!).toFixed(2)}×, detect ${(sleepRow.perStage.detect! / rows[0]!.perStage.detect!).toFixed(2)}× (same run, alternating rounds)`);
const json = arg('json', '');
if (json) writeFileSync(json, JSON.stringify({ images: images.length, rounds, rows }, null, 2));
