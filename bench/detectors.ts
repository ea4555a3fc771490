/**
 * npm run bench:detectors — every detector (`facectl models list`), side by side in one run:
 *  1. faces found and ms per photo on ../shared/datasets/edge-cases, per folder ('thorough', as `detect`);
 *  2. LFW View 1 (pairsDevTest.txt): every detector × every built-in embedder — photos without a face,
 *     ROC-AUC, EER, best-threshold accuracy, DIR @ FPIR 1 % — and the pair chosen on it (highest DIR @ FPIR 1 %, the login criterion; ties by EER);
 *  3. LFW View 2 (pairs.txt, the test set): every detector with the default embedder, and the chosen pair:
 *     photos without a face out of 7,701, 10-fold accuracy, DIR @ FPIR 1 % (through the eval embedding cache).
 * Results go to stdout (markdown) and, as they come, to reports/bench-detectors.json.
 *
 *   npx tsx bench/detectors.ts [--detectors a,b] [--embedders a,b] [--skip-view2] [--json out.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { embedPlan, planEval, type EvalRequest } from '../src/app/eval.js';
import { BUILTIN_EMBEDDERS, DEFAULT_EMBEDDER } from '../src/models/registry.js';
import { allDetectors, loadDetector } from '../src/pipeline/detectors/registry.js';
import { FacePipeline } from '../src/pipeline/pipeline.js';
import { datasetsDir, repoRoot } from '../test/helpers/shared.js';
import { countFaces, detectCentreFaces, embedAndMeasure, summarise, type FolderCount, type PairResult } from './lib/detector-runs.js';
import { arg } from './lib/args.js';

const detectorIds = arg('detectors')?.split(',') ?? (await allDetectors()).map((d) => d.id);
const embedderIds = arg('embedders')?.split(',') ?? BUILTIN_EMBEDDERS.map((e) => e.id);
const out = arg('json') ?? path.join(repoRoot, 'reports', 'bench-detectors.json');
mkdirSync(path.dirname(out), { recursive: true });

const lfw = path.join(datasetsDir, 'lfw');
const edge = path.join(datasetsDir, 'edge-cases');
const EDGE_FOLDERS = ['multi-face', 'single-face', 'quality-resolution', 'pose', 'rotated', 'expression', 'occluded-partial', 'format-quirks', 'no-face'];
const request = (pairsFile?: string): EvalRequest => ({
  datasetDir: lfw,
  pairsFile,
  verification: true,
  identification: 'pairs',
  seed: 42,
  face: 'center',
  cache: true,
  charts: false,
  reportsDir: path.join(repoRoot, 'reports'),
  provenance: { command: 'npm run bench:detectors', versions: {} },
});

const results: { date: string; edge: Record<string, FolderCount[]>; view1: PairResult[]; view1MsPerPhoto: Record<string, number>; chosen?: PairResult; view2: (PairResult & { imagesEmbedded: number; imagesPerSecond: number | null })[] } = {
  date: new Date().toISOString(),
  edge: {},
  view1: [],
  view1MsPerPhoto: {},
  view2: [],
};
const save = () => writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
const pct = (x: number | null | undefined, d = 2) => (x == null ? 'n/a' : `${(100 * x).toFixed(d)} %`);
const log = (s: string) => process.stderr.write(`[bench:detectors ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

// 1. Edge cases.
for (const id of detectorIds) {
  log(`edge cases: ${id}`);
  results.edge[id] = await countFaces(await loadDetector(id), edge, EDGE_FOLDERS);
  save();
}
console.log(`## Faces found on ../shared/datasets/edge-cases (faces found / ms per photo, 'thorough' as \`facectl detect\`), ${results.date.slice(0, 10)}\n`);
console.log(`| folder | photos | ${detectorIds.join(' | ')} |`);
console.log(`|---|---:|${detectorIds.map(() => '---:').join('|')}|`);
EDGE_FOLDERS.forEach((folder, i) => {
  const cells = detectorIds.map((id) => `${results.edge[id]![i]!.faces} / ${results.edge[id]![i]!.msPerPhoto.toFixed(0)}`);
  console.log(`| ${folder} | ${results.edge[detectorIds[0]!]![i]!.photos} | ${cells.join(' | ')} |`);
});

// 2. View 1: detector × embedder.
const plan1 = planEval(request(path.join(lfw, 'pairsDevTest.txt')));
for (const id of detectorIds) {
  const detector = await loadDetector(id);
  log(`View 1: detecting ${plan1.images.length} photos with ${id}`);
  const det = await detectCentreFaces(detector, plan1.root, plan1.images);
  results.view1MsPerPhoto[id] = det.msPerPhoto;
  for (const e of embedderIds) {
    log(`View 1: ${id} × ${e}`);
    results.view1.push(await embedAndMeasure(plan1, detector, det, e));
    save();
  }
}
const chosen = [...results.view1].sort((a, b) => (b.dirAtFpir1 ?? 0) - (a.dirAtFpir1 ?? 0) || a.eer - b.eer)[0]!;
results.chosen = chosen;
save();
console.log(`\n## LFW View 1 (pairsDevTest.txt: ${plan1.protocol!.pairs.length} pairs, ${plan1.images.length} photos): detector × embedder\n`);
console.log('| detector | embedder | no face | ROC-AUC | EER | accuracy (best threshold) | DIR @ FPIR 1 % |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of results.view1)
  console.log(`| ${r.detector} | ${r.embedder} | ${r.noFace} | ${r.rocAuc.toFixed(4)} | ${pct(r.eer)} | ${pct(r.accuracy)} | ${pct(r.dirAtFpir1)} |`);
console.log(`\nChosen on View 1 (highest DIR @ FPIR 1 %): **${chosen.detector} + ${chosen.embedder}**. Detection ms per LFW photo ('fast'): ${detectorIds.map((id) => `${id} ${results.view1MsPerPhoto[id]!.toFixed(0)}`).join(', ')}.`);

// 3. View 2 (the test set): each detector with the default embedder, then the chosen pair.
if (!process.argv.includes('--skip-view2')) {
  const plan2 = planEval(request());
  const runs: [string, string][] = detectorIds.map((d) => [d, DEFAULT_EMBEDDER]);
  if (!runs.some(([d, e]) => d === chosen.detector && e === chosen.embedder)) runs.push([chosen.detector, chosen.embedder]);
  for (const [d, e] of runs) {
    log(`View 2: ${d} × ${e} (${plan2.images.length} photos, cached where a previous run embedded them)`);
    const pipeline = await FacePipeline.load({ detector: d, embedder: e });
    const embedded = await embedPlan(pipeline, plan2, request());
    // Photos/s of the photos embedded in this run (detect + embed); null when all came from the cache.
    const imagesPerSecond = embedded.embedded ? embedded.imagesPerSecond : null;
    results.view2.push({ ...summarise(plan2, (img) => embedded.results.get(img), d, e), imagesEmbedded: embedded.embedded, imagesPerSecond });
    save();
  }
  console.log(`\n## LFW View 2 (pairs.txt, ${plan2.protocol!.pairs.length} pairs, 10 folds; ${plan2.images.length} photos)\n`);
  console.log('| detector | embedder | no face | 10-fold accuracy (mean ± SE) | ROC-AUC | DIR @ FPIR 1 % |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of results.view2)
    console.log(`| ${r.detector} | ${r.embedder} | ${r.noFace} of ${r.images} | ${pct(r.accuracy)} ± ${pct(r.accuracySe)} | ${r.rocAuc.toFixed(4)} | ${pct(r.dirAtFpir1)} |`);
}
log(`results: ${out}`);
