/** The store lock: contention between real processes, stale-lock recovery, timeouts with a clear message. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { GalleryStore } from '../../src/store/index.js';
import { acquireLock, breakStaleLock, processStartTime, readLockInfo } from '../../src/store/lock.js';
import { rollForward } from '../../src/store/commit.js';
import { storeTestHooks } from '../../src/store/fsio.js';
import { BREAK_LOCK_FILE, LOCK_FILE } from '../../src/store/names.js';
import { removeBundles, startFixture } from './fixtures/children.js';
import { scenarioEmbedding } from './fixtures/scenario.js';
import { deadPid, expectFacectlError, face, MODEL, modeOf, tempDir } from './helpers.js';

afterAll(removeBundles);
afterEach(() => delete storeTestHooks.onStep);

async function newStore(): Promise<string> {
  const dir = path.join(tempDir(), 'store');
  await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
  return dir;
}

const writeLock = (dir: string, info: object) => fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(info), { mode: 0o600 });
const writeBreakLock = (dir: string, info: object) => fs.writeFileSync(path.join(dir, BREAK_LOCK_FILE), JSON.stringify(info), { mode: 0o600 });
/** A lock's content as the live process `pid` writes it. */
const liveLockOf = (pid: number) => ({ pid, hostname: os.hostname(), since: new Date().toISOString(), processStart: processStartTime(pid) });

describe('store lock', () => {
  it('8 processes × 25 separate mutate() calls: exactly 200 rows, none lost, store valid', async () => {
    const dir = path.join(tempDir(), 'store');
    await GalleryStore.open(dir, { create: true });
    const workers = await Promise.all(Array.from({ length: 8 }, (_, w) => startFixture('contender', [dir, String(w), '25'])));
    const exits = await Promise.all(workers.map((c) => c.exited));
    exits.forEach((e, w) => expect(e.code, `worker ${w}: ${e.stderr}`).toBe(0));
    // Exit 0 alone does not prove a worker ran (an empty module exits 0 too): each says it finished.
    workers.forEach((c, w) => expect(c.output(), `worker ${w} exited without finishing`).toContain('done'));

    const snapshot = await GalleryStore.open(dir, { verifyEmbeddings: true });
    const expectedIds = Array.from({ length: 8 }, (_, w) => Array.from({ length: 25 }, (_, i) => `w${w}-${i}`)).flat();
    // Which rows are missing, and at what generation, says how they were lost (one overwrite or many).
    const have = new Set(snapshot.rows.map((r) => r.id));
    expect(expectedIds.filter((id) => !have.has(id)), `rows lost; store at generation ${snapshot.generation}`).toEqual([]);
    expect(snapshot.rows).toHaveLength(200);
    expect(snapshot.rows.map((r) => r.id).sort()).toEqual(expectedIds.sort());
    // Each worker's faces appear in its own order, and each embedding is the one that worker wrote.
    for (let w = 0; w < 8; w++) {
      const mine = snapshot.rows.filter((r) => r.id.startsWith(`w${w}-`));
      expect(mine.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => `w${w}-${i}`));
      mine.forEach((row, i) => expect(Array.from(snapshot.embeddingOf(row))).toEqual(Array.from(scenarioEmbedding(w * 1000 + i))));
    }
    expect(snapshot.generation).toBe(201); // creation + 200 commits
    expect((await GalleryStore.verify(dir)).problems).toEqual([]);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  // lockTimeoutMs 0: one attempt, no waiting. A stale lock must be broken on that attempt; a lock judged
  // live fails at once with "store is locked", so these tests do not depend on how fast the machine is.
  const addBobNow = (dir: string) => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]), { lockTimeoutMs: 0 });

  it('a live lock with no wait fails at once (what the stale-lock tests below rely on)', async () => {
    const dir = await newStore();
    writeLock(dir, liveLockOf(process.ppid));
    await expectFacectlError(() => addBobNow(dir), ExitCode.STORE_ERROR, new RegExp(`store is locked by pid ${process.ppid} `));
  });

  it('recovers a stale lock whose pid is dead', async () => {
    const dir = await newStore();
    writeLock(dir, { pid: await deadPid(), hostname: os.hostname(), since: new Date().toISOString() });
    const { snapshot } = await addBobNow(dir);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(`${LOCK_FILE}.`))).toEqual([]);
  });

  // Needs /proc (Linux) to read a process's start time; elsewhere only the dead-pid rule applies.
  const hasProcStart = processStartTime(process.pid) !== undefined;
  it.skipIf(!hasProcStart)(`treats a lock whose pid was reused by another process as stale${hasProcStart ? '' : ' (skipped: no /proc here)'}`, async () => {
    const dir = await newStore();
    const start = processStartTime(process.ppid)!;
    expect(start).toMatch(/^\d+$/);
    // Our parent is alive, but the lock claims a process with a different start time held that pid.
    writeLock(dir, { pid: process.ppid, hostname: os.hostname(), since: new Date().toISOString(), processStart: `${start}1` });
    const { snapshot } = await addBobNow(dir);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
  });

  it('an unreadable lock file is stale (its writer died before it was complete)', async () => {
    const dir = await newStore();
    fs.writeFileSync(path.join(dir, LOCK_FILE), '');
    const { snapshot } = await addBobNow(dir);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
  });

  it('waits for a live holder, then fails with "store is locked by pid N"', async () => {
    const dir = await newStore();
    const holder = await startFixture('hold-lock', [dir]);
    try {
      await holder.waitFor('locked');
      const lock = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
      expect(lock).toMatchObject({ pid: holder.process.pid, hostname: os.hostname() });
      expect(modeOf(path.join(dir, LOCK_FILE))).toBe(0o600);
      const started = Date.now();
      await expectFacectlError(
        () => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]), { lockTimeoutMs: 400 }),
        ExitCode.STORE_ERROR,
        new RegExp(`store is locked by pid ${holder.process.pid} `),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      // Readers do not need the lock.
      expect((await GalleryStore.open(dir)).rows).toHaveLength(1);
    } finally {
      holder.process.kill('SIGKILL');
      await holder.exited;
    }
    // The holder died without unlocking: its lock is now stale and is taken over.
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]), { lockTimeoutMs: 2000 });
  });

  it('never treats a lock from another host as stale', async () => {
    const dir = await newStore();
    writeLock(dir, { pid: await deadPid(), hostname: `not-${os.hostname()}`, since: '2024-01-01T00:00:00.000Z' });
    await expectFacectlError(
      () => GalleryStore.mutate(dir, () => undefined, { lockTimeoutMs: 100 }),
      ExitCode.STORE_ERROR,
      /store is locked by pid \d+ on not-/,
    );
  });

  it('refuses a nested mutate in one process instead of deadlocking', async () => {
    const dir = await newStore();
    await expectFacectlError(
      () => GalleryStore.mutate(dir, () => GalleryStore.mutate(dir, () => undefined)),
      ExitCode.INTERNAL,
      /already locked by this process/,
    );
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith(`${LOCK_FILE}.`));
  const deadLockText = async () => JSON.stringify({ pid: await deadPid(), hostname: os.hostname(), since: '2026-01-01T00:00:00.000Z' });

  // What lost 25 of 200 rows in CI: a breaker that had read a lock now gone (its holder released and
  // exited) moved the next holder's fresh lock aside to inspect it, leaving the store unlocked until it
  // put the lock back. A breaker must leave a lock it did not judge stale where it is, untouched.
  it('a breaker whose stale lock was meanwhile replaced by a fresh one leaves the fresh one in place, never moving it', async () => {
    const dir = await newStore();
    const lock = await acquireLock(dir);
    const fresh = fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8');
    const staleText = await deadLockText();
    await new Promise((r) => setTimeout(r, 50)); // past the file system's timestamp granularity
    const before = fs.statSync(path.join(dir, LOCK_FILE), { bigint: true }).ctimeNs;
    const steps: string[] = [];
    storeTestHooks.onStep = (name) => void steps.push(name);
    expect(breakStaleLock(dir, staleText)).toBe(true);
    expect(steps).toEqual([]); // it never reached the point of deleting anything
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(fresh);
    // Not renamed aside and linked back either: either would change the file's status-change time.
    expect(fs.statSync(path.join(dir, LOCK_FILE), { bigint: true }).ctimeNs).toBe(before);
    expect(() => lock.assertHeld()).not.toThrow();
    expect(leftovers(dir)).toEqual([]);
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('while one process breaks a stale lock, the lock stays in place: no one can take it or break it too', async () => {
    const dir = await newStore();
    const file = path.join(dir, LOCK_FILE);
    writeLock(dir, JSON.parse(await deadLockText()));
    const stale = readLockInfo(dir)!.text;
    let during: { secondBreaker: boolean; lockText: string; takeOver: string } | undefined;
    storeTestHooks.onStep = (name) => {
      if (name !== 'lock:breaking') return;
      const secondBreaker = breakStaleLock(dir, stale);
      const lockText = fs.readFileSync(file, 'utf8');
      // Another process taking the lock links its file into place: that must fail while the stale lock is there.
      const temp = path.join(tempDir(), 'other-lock');
      fs.writeFileSync(temp, '{}');
      let takeOver = 'took the lock';
      try {
        fs.linkSync(temp, file);
      } catch (err) {
        takeOver = (err as NodeJS.ErrnoException).code!;
      }
      during = { secondBreaker, lockText, takeOver };
    };
    expect(breakStaleLock(dir, stale)).toBe(true);
    expect(during).toEqual({ secondBreaker: false, lockText: stale, takeOver: 'EEXIST' });
    expect(fs.existsSync(file)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('a break lock left by a dead process is cleared, then the stale lock is broken', async () => {
    const dir = await newStore();
    writeLock(dir, JSON.parse(await deadLockText()));
    writeBreakLock(dir, JSON.parse(await deadLockText()));
    const { snapshot } = await addBobNow(dir);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    expect(leftovers(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // With no stale lock to break, the next writer removes an abandoned break lock as a leftover.
    writeBreakLock(dir, JSON.parse(await deadLockText()));
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('carol', 2)]), { lockTimeoutMs: 0 });
    expect(leftovers(dir)).toEqual([]);
  });

  it('a break lock naming this process, which is not breaking, was left by an earlier process with our pid: cleared', async () => {
    const dir = await newStore();
    writeLock(dir, JSON.parse(await deadLockText()));
    writeBreakLock(dir, liveLockOf(process.pid));
    const { snapshot } = await addBobNow(dir);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    expect(leftovers(dir)).toEqual([]);
  });

  it('a live break lock makes others wait instead of breaking the stale lock twice, and no writer deletes it as a leftover', async () => {
    const dir = await newStore();
    writeLock(dir, JSON.parse(await deadLockText()));
    writeBreakLock(dir, liveLockOf(process.ppid));
    // The one waited for is the live breaker, not store.lock's dead holder (whom the message used to name).
    await expectFacectlError(() => addBobNow(dir), ExitCode.STORE_ERROR, new RegExp(`store is locked by pid ${process.ppid} `));
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    // Once the stale lock is gone, a writer commits and leaves the (live) break lock alone.
    fs.unlinkSync(path.join(dir, LOCK_FILE));
    await addBobNow(dir);
    expect(fs.existsSync(path.join(dir, BREAK_LOCK_FILE))).toBe(true);
  });

  // ext4 gives a new file the inode number of the last deleted one, so a fresh lock often has the stale
  // one's inode number. Rewriting the file in place keeps the inode for certain: what identifies a lock
  // must be its content, or a breaker deletes a live lock and two holders commit at once.
  it('a fresh lock with the stale one’s very inode is still told apart: put back, not deleted', async () => {
    const dir = await newStore();
    const file = path.join(dir, LOCK_FILE);
    writeLock(dir, { pid: await deadPid(), hostname: os.hostname(), since: '2026-01-01T00:00:00.000Z' });
    const stale = readLockInfo(dir)!;
    const ino = fs.statSync(file).ino;
    const live = `${JSON.stringify({ pid: process.pid, hostname: os.hostname(), since: new Date().toISOString(), token: 'fresh' })}\n`;
    fs.writeFileSync(file, live); // the same inode, another lock
    expect(fs.statSync(file).ino).toBe(ino);
    breakStaleLock(dir, stale.text);
    expect(fs.readFileSync(file, 'utf8')).toBe(live);
  });

  it('a holder whose lock file was replaced by another lock, even at the same inode, refuses to commit', async () => {
    const dir = await newStore();
    const lock = await acquireLock(dir);
    const file = path.join(dir, LOCK_FILE);
    const ino = fs.statSync(file).ino;
    fs.writeFileSync(file, `${JSON.stringify({ pid: process.pid, hostname: os.hostname(), since: new Date().toISOString(), token: 'another' })}\n`);
    expect(fs.statSync(file).ino).toBe(ino);
    expect(() => lock.assertHeld()).toThrow(/lost the store lock/);
    lock.release();
    expect(fs.existsSync(file)).toBe(true); // not ours: release leaves it
  });

  /**
   * Generation 2 (bob added) committed up to its commit point, as a writer leaves it the instant after:
   * commit.journal and the staged files are there, nothing renamed yet; and `holder` holds store.lock.
   */
  async function pendingCommit(holder: object): Promise<string> {
    const dir = await newStore();
    storeTestHooks.onStep = (name) => {
      if (name === 'committed') throw new Error('stopped at the commit point');
    };
    await expect(GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]))).rejects.toThrow('stopped at the commit point');
    delete storeTestHooks.onStep;
    expect(fs.existsSync(path.join(dir, 'commit.journal'))).toBe(true);
    writeLock(dir, holder);
    return dir;
  }

  // Readers take no lock. One that saw a journal used to compete with the writers for the lock just to wait
  // for the commit, and under a steady stream of writes failed "store is locked by pid …" (10 s).
  it('a reader that finds a live writer’s commit pending waits for its journal to go, not for the lock', async () => {
    const dir = await pendingCommit(liveLockOf(process.ppid));
    // The writer completes its commit and keeps the lock (as a writer with more to do, or the next one, would).
    const applied = new Promise((resolve) => setTimeout(() => resolve(rollForward(dir)), 150));
    const snapshot = await GalleryStore.open(dir, { lockTimeoutMs: 5000 });
    expect(await applied).toBe(2);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    expect(readLockInfo(dir)?.info?.pid).toBe(process.ppid); // never taken, broken or moved
  });

  it('a commit still pending when the reader’s wait is up: "locked by pid N, which is committing"; verify notes it as not checked, not as a problem', async () => {
    const dir = await pendingCommit(liveLockOf(process.ppid));
    // A writer slower than the wait is no fault of the store (verify counted it as a problem).
    const report = await GalleryStore.verify(dir, { lockTimeoutMs: 200 });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(false);
    expect(report.notes.at(-1)).toMatch(/^not checked: .*store is locked by pid \d+ .*; run it again$/);
    await expectFacectlError(
      () => GalleryStore.open(dir, { lockTimeoutMs: 200 }),
      ExitCode.STORE_ERROR,
      new RegExp(`store is locked by pid ${process.ppid} since .*, which is committing \\(waited \\d+\\.\\d s\\)`),
    );
    expect(readLockInfo(dir)?.info?.pid).toBe(process.ppid);
  });

  it('a pending commit whose writer died is completed by the reader, under the lock', async () => {
    const dir = await pendingCommit(JSON.parse(await deadLockText()));
    expect((await GalleryStore.open(dir, { lockTimeoutMs: 0 })).rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    expect(fs.readdirSync(dir).sort()).toEqual(['data.csv', 'embeddings.f32', 'manifest.json']);
  });

  it('a holder whose lock was broken refuses to commit', async () => {
    const dir = await newStore();
    const lock = await acquireLock(dir);
    fs.unlinkSync(path.join(dir, LOCK_FILE));
    expect(() => lock.assertHeld()).toThrow(/lost the store lock/);
    lock.release();
  });
});
