/**
 * npm run bench:cluster — `facectl cluster`'s grouping on LFW: the photos of View 2 (pairs.txt, 7,701
 * photos of 4,281 people, most with one photo), each photo's centre face through facectl's eval cache,
 * grouped at the embedder's own thresholds (both fitted on View 1, never on these photos): the 1:1
 * verify threshold (FPR 1e-3) and the stricter 1:N login one. Scores: BCubed and pairwise precision /
 * recall against the true people (src/cluster/metrics.ts), number of groups, and the grouping time.
 *
 *   npx tsx bench/cluster.ts [--dataset ../shared/datasets/lfw] [--pairs pairs.txt] [--model id] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { embedPlan, planEval, type EvalRequest } from '../src/app/eval.js';
import { clusterVectors } from '../src/cluster/chinese-whispers.js';
import { clusteringScores } from '../src/cluster/metrics.js';
import { FacePipeline } from '../src/pipeline/pipeline.js';
import { datasetsDir } from '../test/helpers/shared.js';
import { arg } from './lib/args.js';

const datasetDir = path.resolve(arg('dataset', path.join(datasetsDir, 'lfw')));
const req: EvalRequest = {
  datasetDir,
  pairsFile: path.join(datasetDir, arg('pairs', 'pairs.txt')),
  verification: true,
  identification: 'none',
  seed: 42,
  face: 'center',
  cache: true,
  charts: false,
  reportsDir: '',
  provenance: { command: 'npx tsx bench/cluster.ts', versions: {} },
};
const plan = planEval(req);
const pipeline = await FacePipeline.load({ embedder: arg('model', '') || undefined });
const spec = pipeline.embedderInfo!.spec;
const embedded = await embedPlan(pipeline, plan, req);
const images = plan.images.filter((img) => embedded.results.get(img)?.ok);
const dim = spec.dim;
const vectors = new Float32Array(images.length * dim);
images.forEach((img, i) => vectors.set((embedded.results.get(img) as { embedding: Float32Array }).embedding, i * dim));
const truth = images.map((img) => img.split('/')[0]!);

// --thresholds 0.4,0.45,…: a sweep (to choose on View 1, --pairs pairsDevTrain.txt); default: the model's own.
const sweep = arg('thresholds', '');
const tried: [string, number][] = sweep
  ? sweep.split(',').map((t) => ['cosine', Number(t)])
  : [['verify', spec.thresholds.verify.value], ['login (the default of facectl cluster)', spec.thresholds.login.value]];
const rows = [];
for (const [name, threshold] of tried) {
  const t0 = performance.now();
  const groups = clusterVectors(vectors, dim, { threshold });
  const ms = performance.now() - t0;
  rows.push({ threshold: name, value: threshold, ms, ...clusteringScores(Array.from(groups), truth) });
}
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
console.log(`# clustering ${images.length} LFW photos (${path.basename(req.pairsFile!)}; ${plan.images.length - images.length} without a face), ${spec.id}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| threshold | groups (people: ' + rows[0]!.classes + ') | BCubed precision / recall / F1 | pairwise precision / recall | grouping time |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows)
  console.log(`| ${r.threshold} ${r.value} | ${r.groups} | ${pct(r.bcubedPrecision)} / ${pct(r.bcubedRecall)} / ${pct(r.bcubedF1)} | ${pct(r.pairPrecision)} / ${pct(r.pairRecall)} | ${(r.ms / 1000).toFixed(1)} s |`);
const json = arg('json', '');
if (json) writeFileSync(json, `${JSON.stringify({ command: 'npx tsx bench/cluster.ts', date: new Date().toISOString(), model: spec.id, photos: images.length, rows }, null, 2)}\n`);
