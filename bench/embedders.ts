/**
 * npm run bench:embedders — milliseconds per face of each embedder alone (the mirrored face included where the embedder uses it, as
 * the pipeline runs it), on 1 and 2 onnxruntime threads, side by side in one run: 32 real LFW faces,
 * detected and aligned once per template, embedded in one call (FaceEmbedder batches 16 faces = 32 rows),
 * rounds alternating between embedders so machine noise hits them all. Median over rounds.
 *
 *   npx tsx bench/embedders.ts [--models dlib-resnet,mobilefacenet,faceplugin,ensemble,ensemble-noflip] [--faces 32] [--rounds 7] [--json out.json] [--per-call N] [--prelu-unfolded] [--prelu-as-is] [--no-spin]
 *
 * --per-call N hands the embedder N faces per call (default: all, which it runs 16 faces = 32 rows at a
 * time); --per-call 1 is what one login costs (the face and its mirror: 2 rows).
 * --prelu-unfolded adds each embedder run with PRelu split but not folded (`<id>/unfolded`), --prelu-as-is
 * with the model file's own PRelu ops (`<id>/as-file`), side by side with the PRelu rewrite facectl
 * applies at session creation (src/models/onnx/prelu-rewrite.ts); --no-spin with worker threads that sleep
 * between ops (`<id>/no-spin`) instead of spinning within a run (src/pipeline/runtime.ts).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveEmbedder } from '../src/models/resolve.js';
import type { Embedder } from '../src/pipeline/ensemble.js';
import { FacePipeline, loadEmbedder } from '../src/pipeline/pipeline.js';
import { configureRuntime } from '../src/pipeline/runtime.js';
import { datasetsDir } from '../test/helpers/shared.js';
import { DEFAULT_RUNTIME, runtimeVariants } from './lib/runtime-variants.js';
import { median } from './lib/stats.js';
import { arg } from './lib/args.js';

const models = arg('models', 'dlib-resnet,mobilefacenet,faceplugin,ensemble,ensemble-noflip').split(',');
const faces = Number(arg('faces', '32'));
const rounds = Number(arg('rounds', '7'));
const perCall = Number(arg('per-call', '0'));

const lfw = path.join(datasetsDir, 'lfw');
const people = readdirSync(lfw).filter((d) => !d.includes('.')).sort();
const step = Math.max(1, Math.floor(people.length / faces));
const files = people.filter((_, i) => i % step === 0).slice(0, faces).map((p) => path.join(lfw, p, `${p}_0001.jpg`));

// Detect once; each embedder aligns the same landmarks to its own template.
const detector = await FacePipeline.load({ detectOnly: true });
const found: { image: Awaited<ReturnType<FacePipeline['decode']>>; landmarks: readonly import('../src/pipeline/types.js').Point[] }[] = [];
for (const f of files) {
  const image = await detector.decode(f);
  const [face] = await detector.detect(image);
  if (face) found.push({ image, landmarks: face.landmarks });
}

const runs: { id: string; threads: number; embedder: Embedder; crops: Float32Array[]; ms: number[] }[] = [];
for (const threads of [1, 2]) {
  for (const variant of runtimeVariants(process.argv)) {
    configureRuntime({ threads, ...variant.options }); // sessions are keyed by these: each gets its own
    for (const model of models) {
      const embedder = await loadEmbedder(await resolveEmbedder(model, detector.detector.identity));
      const crops = found.map((f) => embedder.crop(f.image, f.landmarks));
      await embedder.embedCrops(crops); // warm-up
      runs.push({ id: `${model}${variant.suffix}`, threads, embedder, crops, ms: [] });
    }
  }
}
configureRuntime(DEFAULT_RUNTIME.options);
for (let r = 0; r < rounds; r++) {
  for (const run of runs) {
    const step = perCall > 0 ? perCall : run.crops.length;
    const t0 = performance.now();
    for (let i = 0; i < run.crops.length; i += step) await run.embedder.embedCrops(run.crops.slice(i, i + step));
    run.ms.push((performance.now() - t0) / run.crops.length);
  }
}
const ids = [...new Set(runs.map((r) => r.id))];
const rows = ids.map((id) => ({
  id,
  dim: runs.find((r) => r.id === id)!.embedder.spec.dim,
  msPerFace1: median(runs.find((r) => r.id === id && r.threads === 1)!.ms),
  msPerFace2: median(runs.find((r) => r.id === id && r.threads === 2)!.ms),
}));
console.log(`${found.length} LFW faces, ${perCall > 0 ? `${perCall} per call` : 'all in one call'}, mirrored face included where used, median of ${rounds} rounds, ${new Date().toISOString().slice(0, 10)}`);
console.log('embedder                dim   ms/face 1 thread   ms/face 2 threads');
for (const r of rows) console.log(`${r.id.padEnd(22)} ${String(r.dim).padStart(4)}   ${r.msPerFace1.toFixed(2).padStart(16)}   ${r.msPerFace2.toFixed(2).padStart(17)}`);
const out = arg('json', '');
if (out) writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), faces: found.length, perCall, rounds, rows }, null, 2)}\n`);
