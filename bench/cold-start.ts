/**
 * `npm run bench:cold-start [-- --baseline <checkout>] [--rounds 7] [--json out.json]`: how long one
 * facectl process takes from start to exit, per command (`--help`, `list`, `info`, `login`), with the
 * built CLI (bin/facectl → dist/; run `npm run build` first). With --baseline (another checkout of
 * facectl, built, e.g. `git worktree add ../base <commit> && cd ../base && npm ci`), each round runs
 * the same command there right after, so the two are compared side by side on this noisy machine.
 * The store holds one face cut from a sample photo that `npm ci` installs; models come from the cache.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { faceCrop, hasSamples, SKIP_NO_SAMPLES } from '../test/helpers/samples.js';
import { repoRoot } from '../test/helpers/shared.js';
import { median } from './lib/stats.js';
import { arg } from './lib/args.js';

const rounds = Number(arg('rounds', '7'));
const baseline = arg('baseline', '');

const launcher = (root: string): string => {
  const bin = path.join(root, 'bin/facectl');
  if (!existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error(`${root}: no dist/ (run npm run build there)`);
  return bin;
};
if (!hasSamples) throw new Error(SKIP_NO_SAMPLES);

const builds = [{ label: 'this checkout', bin: launcher(repoRoot) }, ...(baseline ? [{ label: `baseline ${baseline}`, bin: launcher(path.resolve(baseline)) }] : [])];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-cold-start-'));
const env = { ...process.env, FACECTL_STORE: path.join(tmp, 'store') };
const run = (bin: string, argv: string[]) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...argv, '-q'], { env, encoding: 'utf8' });
  return { ms: performance.now() - t0, code: r.status, stderr: r.stderr };
};

const face = await faceCrop('a');
const enrolled = run(builds[0]!.bin, ['enroll', 'alice', face]);
if (enrolled.code !== 0) throw new Error(`enroll failed: ${enrolled.stderr}`);
const commands: { name: string; argv: string[]; exit: number }[] = [
  { name: '--help', argv: ['--help'], exit: 0 },
  { name: 'list', argv: ['list'], exit: 0 },
  { name: 'info', argv: ['info'], exit: 0 },
  { name: 'login (1 face, 1 identity)', argv: ['login', face], exit: 0 },
];
// One untimed round first: it fills the OS file cache for both builds.
for (const c of commands) for (const b of builds) run(b.bin, c.argv);
const times = commands.map(() => builds.map(() => [] as number[]));
for (let r = 0; r < rounds; r++) {
  commands.forEach((c, ci) =>
    builds.forEach((b, bi) => {
      const t = run(b.bin, c.argv);
      if (t.code !== c.exit) throw new Error(`${b.label}: facectl ${c.argv.join(' ')} exited ${t.code}: ${t.stderr}`);
      times[ci]![bi]!.push(t.ms);
    }),
  );
}

console.log(`# cold start: one facectl process, start to exit, median of ${rounds} alternating rounds, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`| command | ${builds.map((b) => `ms, ${b.label}`).join(' | ')}${baseline ? ' | ratio |' : ''}`);
console.log(`|---|${builds.map(() => '---:').join('|')}${baseline ? '|---:|' : ''}`);
const result = commands.map((c, ci) => {
  const med = times[ci]!.map((t) => median(t));
  console.log(`| ${c.name} | ${med.map((m) => m.toFixed(0)).join(' | ')}${baseline ? ` | ${(med[0]! / med[1]!).toFixed(2)}× |` : ''}`);
  return { command: c.name, medianMs: Object.fromEntries(builds.map((b, bi) => [b.label, med[bi]])), runsMs: times[ci] };
});
const json = arg('json', '');
if (json) writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), rounds, builds: builds.map((b) => b.label), result }, null, 2));
