/**
 * The store under real CLI processes: 8 concurrent workers each running 25 enrollments lose nothing,
 * and an enroll killed (SIGKILL) at random moments always leaves a valid store in the old or new state.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GalleryStore, verifyStore } from '../../src/store/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets, repoRoot } from '../helpers/shared.js';

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

  it('SIGKILL at random moments of an enroll leaves the old or the new state, never a mix', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-kill-'));
    const store = path.join(tmp, 'store');
    const env = { FACECTL_STORE: store };
    expect(runCli(['enroll', 'base', orl(1, 1)], env).code).toBe(0);
    // How long one enroll takes here, to spread the kills over its whole life (start-up to commit).
    const t0 = performance.now();
    expect(runCli(['enroll', 'timing', orl(2, 1)], env).code).toBe(0);
    const duration = performance.now() - t0;
    let faces = 2;
    const outcomes = { killedBefore: 0, committed: 0 };
    for (let i = 0; i < 12; i++) {
      const child = spawnCli(['enroll', `k${i}`, orl(3 + i, 1), orl(3 + i, 2), '--force'], env);
      const closed = new Promise((r) => child.on('close', r)); // listen now: it may finish before the kill
      await new Promise((r) => setTimeout(r, duration * (0.3 + (i / 12) * 1.0)));
      child.kill('SIGKILL');
      await closed;
      const snap = await GalleryStore.open(store);
      // Old state (faces) or new state (faces + 2): an enroll commits its photos together.
      expect([faces, faces + 2]).toContain(snap.faceCount);
      if (snap.faceCount === faces + 2) outcomes.committed++;
      else outcomes.killedBefore++;
      faces = snap.faceCount;
      const report = await verifyStore(store);
      expect(report.problems, JSON.stringify(report)).toEqual([]);
    }
    // The next enroll after all the kills works and the lock is free.
    expect(runCli(['enroll', 'after', orl(20, 3), '--force'], env).code).toBe(0);
    expect(readdirSync(store).filter((f) => f.includes('.tmp') || f.endsWith('.next'))).toEqual([]);
    expect(outcomes.killedBefore + outcomes.committed).toBe(12);
  }, 600_000);
});
