/**
 * The store under real CLI processes: 8 concurrent workers each running 25 enrollments lose nothing,
 * and an enroll killed (SIGKILL) inside its commit, at each commit step and from outside, always leaves
 * a valid store in the old or new state.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GalleryStore, verifyStore } from '../../src/store/index.js';
import { runCli, spawnHookedCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets, repoRoot } from '../helpers/shared.js';
import { COMMIT_STEPS } from '../helpers/store-checks.js';

/** ORL: 40 people × 10 small PGM photos, cheap to embed. */
const orl = (s: number, n: number) => dataset('orl-faces', `s${s}`, `${n}.pgm`);

describe.skipIf(!hasDatasets)(`CLI under concurrency and kills${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('8 concurrent processes × 25 enrollments: all 200 faces are in the store', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-conc-'));
    const store = path.join(tmp, 'store');
    // Each worker is one process that runs `facectl enroll` 25 times in a row (in-process, like a
    // service would), so the test pays 8 process start-ups rather than 200.
    const worker = path.join(tmp, 'worker.mts'); // .mts: an ES module wherever it lives (top-level await)
    writeFileSync(
      worker,
      `import { main } from ${JSON.stringify(path.join(repoRoot, 'src/cli/main.ts'))};\n` +
        `const [w] = process.argv.slice(2).map(Number);\n` +
        `for (let k = 0; k < 25; k++) {\n` +
        `  const person = ((w * 25 + k) % 40) + 1, photo = (Math.floor((w * 25 + k) / 40) % 10) + 1;\n` +
        `  await main(['node', 'facectl', 'enroll', \`w\${w}-\${k}\`, ${JSON.stringify(dataset('orl-faces'))} + \`/s\${person}/\${photo}.pgm\`, '--force', '-q']);\n` +
        `  if (process.exitCode) { console.error('enroll failed', w, k, process.exitCode); process.exit(1); }\n` +
        `}\n`,
    );
    const runs = Array.from({ length: 8 }, (_, w) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', worker, String(w)], { cwd: repoRoot, env: { ...process.env, FACECTL_STORE: store }, stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('close', (code) => resolve(code ?? -1));
      }),
    );
    expect(await Promise.all(runs)).toEqual(new Array(8).fill(0));
    const snapshot = await GalleryStore.open(store);
    expect(snapshot.faceCount).toBe(200);
    expect(snapshot.identities()).toHaveLength(200);
    expect((await verifyStore(store)).ok).toBe(true);
  }, 600_000);

  it('SIGKILL of an enroll inside its commit, at every commit step and at random instants: the old or the new state, never a mix', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-kill-'));
    const store = path.join(tmp, 'store');
    const env = { FACECTL_STORE: store };
    expect(runCli(['enroll', 'base', orl(1, 1)], env).code).toBe(0);
    // The real `facectl enroll` in a child that reports each commit step and, when asked, SIGKILLs
    // itself at one: a kill that certainly lands inside the commit, through the whole CLI.
    const run = (argv: string[], killAt?: string) => spawnHookedCli(argv, env, killAt);
    let faces = 1;
    let i = 0;
    /** After each kill: the store opens valid, at the old count or the old count + 2 (an enroll commits its two photos together). */
    const checkStore = async (label: string): Promise<'old' | 'new'> => {
      const snap = await GalleryStore.open(store);
      expect([faces, faces + 2], label).toContain(snap.faceCount);
      const outcome = snap.faceCount === faces ? 'old' : 'new';
      faces = snap.faceCount;
      const report = await verifyStore(store);
      expect(report.problems, `${label}: ${JSON.stringify(report)}`).toEqual([]);
      return outcome;
    };
    const enrollArgs = () => ['enroll', `k${i}`, orl(3 + i, 1), orl(3 + i, 2), '--force', '-q'];

    // 1. Killed at each named step of the commit. Before the journal ("committed") the old state must
    //    survive; from it on the commit is durable and the next open rolls it forward.
    for (const [stepName, expected] of COMMIT_STEPS) {
      const r = run(enrollArgs(), stepName);
      const exit = await r.closed;
      expect(exit.signal, `killed at ${stepName}? stderr: ${r.stderr()}`).toBe('SIGKILL');
      expect(r.steps().at(-1)).toBe(stepName);
      expect(await checkStore(`killed at ${stepName}`), stepName).toBe(expected);
      i++;
    }

    // 2. Killed from outside at the moment the child reports its commit has started (as a user's
    //    Ctrl-\ or the OOM killer would): wherever it lands, the store is a committed state, and
    //    the outcome agrees with how far the child said it got.
    const outside = { beforeJournal: 0, afterJournal: 0 };
    for (const trigger of ['staged:data.csv', 'staged:embeddings.f32', 'staged:manifest.json', 'committed']) {
      const r = run(enrollArgs());
      r.child.stdout!.on('data', () => {
        if (r.steps().includes(trigger)) r.child.kill('SIGKILL');
      });
      const exit = await r.closed;
      const seen = r.steps();
      expect(seen, `the child reached ${trigger}; stderr: ${r.stderr()}`).toContain(trigger);
      const outcome = await checkStore(`killed from outside after ${trigger} (child got to ${seen.at(-1)})`);
      if (exit.signal === 'SIGKILL' && !seen.includes('journal-removed')) outside[seen.includes('committed') ? 'afterJournal' : 'beforeJournal']++;
      // "step committed" is printed just after the journal is written, so a kill between the two may
      // leave the new state unreported; the reverse is never allowed.
      if (seen.includes('committed') || exit.code === 0) expect(outcome, 'journal written: the commit must survive').toBe('new');
      i++;
    }
    console.log(`[kill test] external kills that landed mid-commit: ${outside.beforeJournal} before the journal, ${outside.afterJournal} after it`);

    // The next enroll after all the kills works, the lock is free, no leftovers remain.
    const after = runCli(['enroll', 'after', orl(20, 3), '--force'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(readdirSync(store).filter((f) => f.includes('.tmp') || f.endsWith('.next') || f.includes('journal') || f.includes('lock'))).toEqual([]);
    expect((await GalleryStore.open(store)).faceCount).toBe(faces + 1);
  }, 600_000);
});
