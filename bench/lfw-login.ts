/**
 * npm run bench:lfw-login — the seed's "add user" + "login" on LFW, end to end: enroll one photo of each
 * person with ≥ 2 photos (1,680 people), log in with their second photo, and log in 1,680 one-photo
 * people who were never enrolled. Reports rank-1 accuracy, correct/wrong accepts and the stranger
 * false-accept rate at the store's threshold (--threshold, else the model default).
 *
 *   npx tsx bench/lfw-login.ts [--people 1680] [--strangers 1680] [--threshold t] [--json out.json]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FacePipeline } from '../src/pipeline/pipeline.js';
import { datasetsDir } from '../test/helpers/shared.js';
import { runLfwLogin } from './lib/lfw-login.js';
import { arg } from './lib/args.js';

const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
const pipeline = await FacePipeline.load();
const store = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-lfw-login-')), 'store');
let last = 0;
const r = await runLfwLogin(pipeline, path.join(datasetsDir, 'lfw'), store, {
  people: num('people'),
  strangers: num('strangers'),
  threshold: num('threshold'),
  onProgress: (phase, done, total) => {
    if (Date.now() - last > 5000 || done === total) {
      last = Date.now();
      process.stderr.write(`${phase} ${done}/${total}\n`);
    }
  },
});
const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(2)} %`;
console.log(`# LFW login end to end: ${r.enrolled} people enrolled (1 photo each), ${r.probes} probes, ${r.strangers} strangers; ${r.seconds.toFixed(0)} s\n`);
console.log('| measure | value |\n|---|---:|');
console.log(`| threshold | ${r.threshold.toFixed(4)} (${r.thresholdSource}) |`);
console.log(`| rank-1 identification (best match is the right person) | ${pct(r.rank1, r.probes)} (${r.rank1}/${r.probes}) |`);
console.log(`| accepted as the right person | ${pct(r.correctAccepts, r.probes)} |`);
console.log(`| accepted as the wrong person | ${pct(r.wrongAccepts, r.probes)} (${r.wrongAccepts}) |`);
console.log(`| strangers accepted (false accept rate) | ${pct(r.strangerAccepts, r.strangers)} (${r.strangerAccepts}/${r.strangers}) |`);
console.log(`| photos without a usable face (enroll / login) | ${r.enrollFailures} / ${r.probeFailures} |`);
const json = arg('json');
if (json) writeFileSync(json, JSON.stringify(r, null, 2));
