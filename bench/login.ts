/**
 * npm run bench:login — login latency per photo (decode → detect → landmarks → align → embed → search)
 * against a store of 1e4 enrolled identities, in a warm process; plus the cold one-shot cost of
 * `facectl login` (process start, model load, store open) and the per-request cost through
 * `facectl serve` (a client's round trip over its stdin/stdout), measured separately.
 *
 *   npx tsx bench/login.ts [--identities 10000] [--queries 50] [--json out.json] [--prelu-unfolded] [--prelu-as-is] [--no-spin]
 * --prelu-unfolded also logs in with PRelu split but not folded into the next convolutions, --prelu-as-is
 * with the model files' own PRelu ops (runtime rewrite off), --no-spin with worker threads that sleep between
 * ops (src/pipeline/runtime.ts), query by query alternating with the
 * default, so they are measured side by side under the same machine noise.
 * The gallery: real embeddings (the default embedder's) of LFW people (one photo each) topped up to the size asked with
 * synthetic identities (real embeddings mixed with noise and renormalised), so search cost is that
 * of a real 1e4-person store. Queries: other photos of enrolled LFW people, which must be accepted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { identify, openLoginContext } from '../src/app/login.js';
import { storeModelInfo } from '../src/app/store-model.js';
import { openGallery } from '../src/gallery/open.js';
import { FacePipeline } from '../src/pipeline/pipeline.js';
import { configureRuntime } from '../src/pipeline/runtime.js';
import { GalleryStore, type NewFace } from '../src/store/index.js';
import { datasetsDir, repoRoot } from '../test/helpers/shared.js';
import { DEFAULT_RUNTIME, runtimeVariants } from './lib/runtime-variants.js';
import { median, p95 } from './lib/stats.js';
import { arg } from './lib/args.js';

const identities = Number(arg('identities', '10000'));
const queryCount = Number(arg('queries', '50'));
const lfw = path.join(datasetsDir, 'lfw');

const pipeline = await FacePipeline.load();
const model = storeModelInfo(pipeline.embedderInfo!);
const people = readdirSync(lfw)
  .filter((d) => !d.includes('.'))
  .sort()
  .filter((p) => readdirSync(path.join(lfw, p)).length >= 2)
  .slice(0, queryCount);

// Real enrollments: photo 1 of each query person.
const store = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-bench-login-')), 'store');
const real: NewFace[] = [];
for (const p of people) {
  const file = path.join(lfw, p, `${p}_0001.jpg`);
  const { image, faces } = await pipeline.processFile(file, 'center');
  real.push({ id: p, name: p, sourcePath: file, imageSha256: image.sha256, box: faces[0]!.box, quality: faces[0]!.quality, embedding: faces[0]!.embedding });
}
// Synthetic identities: a real embedding plus Gaussian noise, renormalised (cosine ≈ 0.7 to its source).
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const synthetic: NewFace[] = [];
for (let i = real.length; i < identities; i++) {
  const base = real[i % real.length]!.embedding;
  const v = Float32Array.from(base, (x) => x + gauss() * 0.09);
  synthetic.push({ ...real[i % real.length]!, id: `synthetic-${i}`, name: `synthetic ${i}`, embedding: v });
}
await GalleryStore.mutate(store, (draft) => void draft.addFaces(model, [...real, ...synthetic]));

const queries = people.map((p) => path.join(lfw, p, `${p}_0002.jpg`));
interface Variant {
  label: string;
  pipeline: FacePipeline;
  ctx: Awaited<ReturnType<typeof openLoginContext>>;
  times: number[];
  accepted: number;
  correct: number;
}
const variants: Variant[] = [];
for (const variant of runtimeVariants(process.argv)) {
  configureRuntime(variant.options); // sessions are keyed on it: each variant runs its own
  const p = variant === DEFAULT_RUNTIME ? pipeline : await FacePipeline.load();
  const ctx = await openLoginContext(p, await openGallery(store, { mustExist: true, search: true }), { index: 'auto' });
  for (const q of queries.slice(0, 3)) await identify(p, ctx, q, { top: 1, allFaces: false }); // warm-up
  p.timer.reset();
  variants.push({ label: variant.label, pipeline: p, ctx, times: [], accepted: 0, correct: 0 });
}
configureRuntime(DEFAULT_RUNTIME.options);
for (const [i, q] of queries.entries()) {
  for (const v of variants) {
    const t0 = performance.now();
    const [d] = await identify(v.pipeline, v.ctx, q, { top: 1, allFaces: false });
    v.times.push(performance.now() - t0);
    if (d!.decision === 'ACCEPT') v.accepted++;
    if (d!.candidates[0]?.id === people[i]) v.correct++; // rank-1, whatever the threshold decided
  }
}
const summary = (v: Variant) => {
  const per = (stage: string) => (v.pipeline.timer.totals.get(stage as never) ?? 0) / queries.length;
  return {
    label: v.label,
    medianMs: median(v.times),
    p95Ms: p95(v.times),
    meanMs: v.times.reduce((a, b) => a + b, 0) / v.times.length,
    stagesMs: Object.fromEntries(['decode', 'detect', 'landmarks', 'align', 'embed', 'search'].map((s) => [s, per(s)])),
    accepted: v.accepted,
    rank1Correct: v.correct,
  };
};
const [main, ...others] = variants.map(summary);
const ctx = variants[0]!.ctx;

// Cold: one `facectl login` process, start to exit (what a shell script pays per call). The built CLI
// (bin/facectl → dist/, what `npm ci` installs) when it exists, else the sources through tsx.
const built = existsSync(path.join(repoRoot, 'dist/cli/main.js'));
const cli = built ? [path.join(repoRoot, 'bin/facectl')] : ['--import', 'tsx', path.join(repoRoot, 'test/helpers/cli-entry.ts')];
const loginOnce = (q: string) => spawnSync(process.execPath, [...cli, 'login', q, '--store', store, '-q'], { encoding: 'utf8' });
const cold = loginOnce(queries[0]!); // first call also fills the OS file cache
const coldRuns: number[] = [];
for (const q of queries.slice(1, 4)) {
  const t0 = performance.now();
  loginOnce(q);
  coldRuns.push(performance.now() - t0);
}
const coldMs = coldRuns.sort((a, b) => a - b)[1]!;

// Served: one `facectl serve` process, the same queries as requests, timed by the client (request line
// written → answer line read), plus its start (spawn → first answer).
const served = await (async () => {
  const child = spawn(process.execPath, [...cli, 'serve', '--store', store, '-q'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (request: unknown) => {
    child.stdin!.write(`${JSON.stringify(request)}\n`);
    return JSON.parse((await lines.next()).value as string) as { ok: boolean; faces?: { decision: string }[] };
  };
  const t0 = performance.now();
  await ask({ op: 'ping' });
  const startMs = performance.now() - t0;
  const times: number[] = [];
  let accepted = 0;
  for (const q of queries) {
    const t = performance.now();
    const answer = await ask({ op: 'login', image: q, top: 1 });
    times.push(performance.now() - t);
    if (answer.faces?.[0]?.decision === 'ACCEPT') accepted++;
  }
  child.stdin!.end();
  await new Promise((resolve) => child.on('close', resolve));
  return { startMs, medianMs: median(times), p95Ms: p95(times), accepted };
})();

const result = {
  date: new Date().toISOString(),
  identities: ctx.info.identities,
  index: ctx.lastIndex?.kind ?? 'none',
  queries: queries.length,
  ...main!,
  coldCliMs: coldMs,
  coldCli: built ? 'bin/facectl' : 'tsx',
  coldCliExit: cold.status,
  served,
  sideBySide: others,
};
console.log(`# login latency: ${result.identities} enrolled identities (${result.index} index), ${result.queries} LFW query photos (250×250), ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
const all = [main!, ...others];
console.log(`| stage | ${all.map((r) => `ms per photo (${r.label})`).join(' | ')} |\n|---|${all.map(() => '---:').join('|')}|`);
for (const s of Object.keys(main!.stagesMs)) console.log(`| ${s} | ${all.map((r) => r.stagesMs[s]!.toFixed(2)).join(' | ')} |`);
console.log(`| **total (median / p95)** | ${all.map((r) => `**${r.medianMs.toFixed(1)} / ${r.p95Ms.toFixed(1)}**`).join(' | ')} |`);
for (const r of all) console.log(`\n${r.label}: accepted ${r.accepted}/${queries.length} at the login threshold; best match is the right person (rank-1) for ${r.rank1Correct}/${queries.length}`);
console.log(`cold one-shot \`facectl login\` (${built ? 'bin/facectl' : 'sources via tsx'}; process start + models + store open + login, median of 3): ${coldMs.toFixed(0)} ms (exit ${cold.status})`);
console.log(`served: \`facectl serve\` (the same CLI), one request per query as its client sees it: median ${served.medianMs.toFixed(1)} ms, p95 ${served.p95Ms.toFixed(1)} ms, accepted ${served.accepted}/${queries.length}; start to first answer ${served.startMs.toFixed(0)} ms`);
const json = arg('json', '');
if (json) writeFileSync(json, JSON.stringify(result, null, 2));
