/**
 * Crash safety: real child processes are SIGKILLed in the middle of commits, at every named commit
 * step and at random instants; the store must then open valid and equal to a committed state (the one
 * before the interrupted commit, or the one after it), and never a mix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/store/index.js';
import { JOURNAL_FILE } from '../../src/store/names.js';
import { removeBundles, startFixture } from './fixtures/children.js';
import { expectScenarioState, tempDir } from './helpers.js';
import { COMMIT_STEPS } from '../helpers/store-checks.js';

afterAll(removeBundles);

const lastCommitted = (stdout: string): number => {
  const all = [...stdout.matchAll(/(?:committed|ready) (\d+)/g)];
  return all.length ? Number(all[all.length - 1]![1]) : -1;
};

/** Advances a fresh store through exactly `steps` commits (no crash), so later steps rewrite existing data. */
async function seededStore(steps: number): Promise<string> {
  const dir = path.join(tempDir(), 'store');
  // The child stops by itself after `steps` commits: killing it on "committed N" could let it commit
  // N+1 first and shift every later step by one.
  const child = await startFixture('crasher', [dir, 'upto', String(steps)]);
  const exit = await child.exited;
  expect(exit.code, exit.stderr).toBe(0);
  expect((await GalleryStore.open(dir)).generation - 1).toBe(steps);
  return dir;
}

describe('crash at each commit step (SIGKILL from inside the commit)', () => {
  // Before "committed" the journal does not exist yet: the old state must survive. From "committed" on,
  // the commit is durable and the next open must roll it forward to the new state.
  it.each(COMMIT_STEPS)('killed at %s → %s state', async (stepName, expected) => {
    const dir = await seededStore(4);
    const before = 4;
    // Step 4 → 5 adds a face and removes p1: it rewrites all three files.
    const child = await startFixture('crasher', [dir, 'crash', stepName, '1']);
    const exit = await child.exited;
    expect(exit.signal, `child should have been killed at ${stepName}; stderr: ${exit.stderr}`).toBe('SIGKILL');
    expect(fs.existsSync(path.join(dir, JOURNAL_FILE))).toBe(expected === 'new' && stepName !== 'journal-removed');

    const snapshot = await GalleryStore.open(dir); // lock-free reader: completes a pending journal itself
    const n = snapshot.generation - 1;
    expect(n).toBe(expected === 'old' ? before : before + 1);
    expectScenarioState(snapshot, n);
    expect(fs.existsSync(path.join(dir, JOURNAL_FILE))).toBe(false);
    const report = await GalleryStore.verify(dir);
    expect(report.problems).toEqual([]);

    // The store keeps working: the next writer clears leftovers and commits on top.
    const next = await GalleryStore.mutate(dir, (d) => void d.setThreshold(null));
    expect(next.snapshot.generation).toBe(snapshot.generation + 1);
    expect(fs.readdirSync(dir).sort()).toEqual(['data.csv', 'embeddings.f32', 'manifest.json']);
  });

  it('a threshold-only commit (dump not rewritten) killed after the journal rolls forward', async () => {
    const dir = await seededStore(2); // step 3 sets only the threshold
    const child = await startFixture('crasher', [dir, 'crash', 'renamed:data.csv', '1']);
    expect((await child.exited).signal).toBe('SIGKILL');
    const snapshot = await GalleryStore.open(dir);
    expect(snapshot.generation - 1).toBe(3);
    expectScenarioState(snapshot, 3);
  });
});

describe('crash at random instants (SIGKILL from outside)', () => {
  it('32 kills: every reopen is a committed state, the last acknowledged one or the next', async () => {
    const dir = path.join(tempDir(), 'store');
    const rounds = 32;
    let acknowledged = 0;
    const outcomes = { old: 0, new: 0 };
    // Kill after a random 0..window ms; the window widens when a round saw no commit (a loaded machine).
    let window = 60;
    for (let round = 0; round < rounds; round++) {
      const child = await startFixture('crasher', [dir, 'loop']);
      await child.waitFor(/ready \d+\n/);
      await new Promise((r) => setTimeout(r, Math.random() * window));
      child.process.kill('SIGKILL');
      const exit = await child.exited;
      expect(exit.signal, exit.stderr).toBe('SIGKILL');
      const acked = lastCommitted(child.output());
      expect(acked).toBeGreaterThanOrEqual(acknowledged);

      const snapshot = await GalleryStore.open(dir);
      const n = snapshot.generation - 1;
      expect([acked, acked + 1], `round ${round}: store at ${n}, child acknowledged ${acked}`).toContain(n);
      outcomes[n === acked ? 'old' : 'new']++;
      expectScenarioState(snapshot, n);
      if (n === acknowledged) window = Math.min(window * 1.5, 1000);
      acknowledged = n;
    }
    const report = await GalleryStore.verify(dir);
    expect(report.problems).toEqual([]);
    expect(acknowledged).toBeGreaterThan(rounds / 2); // commits did happen between kills
    console.log(`[crash test] ${rounds} kills, ${acknowledged} commits; reopened at the acknowledged state ${outcomes.old}×, at the next ${outcomes.new}×`);
  });
});

describe('readers never see a half-written store', () => {
  it('lock-free opens during 80 commits of another process always see a whole committed state', async () => {
    const dir = path.join(tempDir(), 'store');
    await GalleryStore.open(dir, { create: true });
    const child = await startFixture('crasher', [dir, 'loop']);
    await child.waitFor(/ready \d+\n/);
    let reads = 0;
    let last = 0;
    const seen = new Set<number>();
    try {
      // The writer commits forever: keep reading until it is past 80 commits and we have read often
      // enough (on a loaded machine the writer can outrun the reader, so count reads, not time).
      // Also read until two committed states besides the first were seen (bounded: a reader that
      // never catches the writer mid-run fails the check below).
      const deadline = Date.now() + 60_000;
      while (last < 80 || reads < 20 || (seen.size < 3 && Date.now() < deadline)) {
        const snapshot = await GalleryStore.open(dir);
        const n = snapshot.generation - 1;
        expect(n).toBeGreaterThanOrEqual(last);
        expectScenarioState(snapshot, n);
        last = n;
        seen.add(n);
        reads++;
      }
    } finally {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    // The reads really raced the writer: besides the empty store they saw at least two states it was
    // committing (a reader that retries while a busy writer renames files can skip many generations).
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });
});
