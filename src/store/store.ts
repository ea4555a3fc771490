/**
 * GalleryStore: the public entry points. Reads are lock-free snapshots; every change goes through
 * mutate(), which takes the lock, reloads the latest generation, applies the callback to a draft and
 * commits the result atomically (see commit.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { commitGeneration, removeLeftovers, rollForward } from './commit.js';
import { StoreDraft } from './draft.js';
import { DIR_MODE, errnoCode, fsyncDir, makePrivateDirs, readIfExists, storeError, storeIoError, unlinkIfExists, writeFileDurable } from './fsio.js';
import { buildGeneration, emptySnapshot } from './generation.js';
import { filesUnchanged, readHead, readSnapshot, type OpenOptions } from './load.js';
import { repairStore, verifyStore } from './maintenance.js';
import { withLock } from './lock.js';
import { inspectStoreDir, refuseUnlessStoreDir, storeDirKind } from './dir-kind.js';
import { isTempLeftover, MANIFEST_FILE, RESERVED_NAMES, sideTempName } from './names.js';
import type { StoreHead, StoreSnapshot } from './snapshot.js';

export interface MutateOptions extends OpenOptions {
  /** Create the store (directory 0700 and an empty generation) if it does not exist (default true). */
  create?: boolean;
  /** Fail with STORE_ERROR unless the store is still at this generation (work prepared outside the lock). */
  expectGeneration?: number;
  /** Commit time (tests); defaults to now. */
  now?: Date;
  /**
   * Runs under the lock with the generation about to be committed, before its commit point: for files
   * beside the store derived from the faces (the search index), which must not outlive a commit that
   * removes someone even if the process dies right after it.
   */
  beforeCommit?: (next: StoreSnapshot) => void;
  /**
   * The caller's own snapshot of the store (what it read, or what its last commit wrote): the base of the
   * change when it is still the committed generation (the manifest under the lock is the one it read),
   * instead of reading the store again under the lock (at 1e5 faces, seconds and a second copy of the
   * embeddings in memory). Any other snapshot is ignored and the store is read as without it.
   */
  base?: StoreSnapshot;
}

export interface MutateResult<T> {
  result: T;
  /** The store as committed (or unchanged, if the callback changed nothing). */
  snapshot: StoreSnapshot;
  committed: boolean;
}

/**
 * Makes `dir` ready to hold a store: creates it 0700 (whatever the umask) and refuses a non-empty
 * directory that is not already a store, so `--store ~/Documents` cannot scatter files there.
 */
function prepareDir(dir: string): void {
  try {
    makePrivateDirs(path.dirname(dir)); // not mkdir's recursive mode: it spins forever under /proc
    try {
      fs.mkdirSync(dir, { mode: DIR_MODE });
      fs.chmodSync(dir, DIR_MODE);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const inspected = inspectStoreDir(dir);
    const kind = inspected.kind;
    if (kind === 'not-dir') throw storeError('not a directory', dir);
    if (kind === 'store') {
      refuseUnlessStoreDir(dir, inspected); // writable by others: refused
      // Readable by others (a folder made 0755 before facectl): ours, so made private, as at creation.
      const st = inspected.stats!;
      if (st.mode & 0o077 && st.uid === process.getuid?.()) fs.chmodSync(dir, DIR_MODE);
      return;
    }
    if (kind === 'damaged') throw storeError(`store is damaged: ${MANIFEST_FILE} is missing: run \`facectl index rebuild\``, dir);
    if (kind === 'foreign') throw storeError(`directory is not empty and is not a facectl store: refusing to create a store there`, dir);
    fs.chmodSync(dir, DIR_MODE);
  } catch (err) {
    throw storeIoError(err, 'create the store directory', dir);
  }
}

/** NOT_FOUND when nothing is there; STORE_ERROR, before anything is touched, when it is not a store. */
function requireStoreDir(dir: string): void {
  if (refuseUnlessStoreDir(dir) === 'missing') throw new FacectlError(ExitCode.NOT_FOUND, 'no store here: enroll someone first, or pass --store', dir);
}

/** `snapshot` when it is the generation committed in `root` now (under the lock), its files untouched (filesUnchanged). */
async function stillCommitted(root: string, snapshot: StoreSnapshot | undefined): Promise<StoreSnapshot | undefined> {
  if (!snapshot || snapshot.dir !== root || snapshot.generation === 0) return undefined;
  return (await filesUnchanged(snapshot)) ? snapshot : undefined; // else read again below, which reports what is wrong
}

const SIDE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function sideFilePath(dir: string, name: string): string {
  if (!SIDE_NAME.test(name) || RESERVED_NAMES.has(name) || isTempLeftover(name)) {
    throw new FacectlError(ExitCode.INTERNAL, `"${name}" cannot be a side file of the store`);
  }
  return path.join(dir, name);
}

export const GalleryStore = {
  /**
   * A consistent snapshot of the latest committed generation. NOT_FOUND if `dir` does not exist
   * (unless `create`), STORE_ERROR if it is not a store or is damaged.
   */
  async open(dir: string, options: OpenOptions & { create?: boolean } = {}): Promise<StoreSnapshot> {
    const root = path.resolve(dir);
    if (options.create && !fs.existsSync(path.join(root, MANIFEST_FILE))) {
      return (await GalleryStore.mutate(root, () => undefined, { ...options, create: true })).snapshot;
    }
    requireStoreDir(root);
    return readSnapshot(root, options);
  },

  /**
   * The latest committed generation without its embeddings (manifest, row index, rows on first access),
   * checked as open() checks it (embeddings.f32 by its size and header), for readers that need no
   * vector: counts, model, threshold, the list of people. NOT_FOUND / STORE_ERROR as open().
   */
  async openHead(dir: string, options: Omit<OpenOptions, 'verifyEmbeddings'> = {}): Promise<StoreHead> {
    const root = path.resolve(dir);
    requireStoreDir(root);
    return readHead(root, options);
  },

  /**
   * Lock → complete any interrupted commit → reload the latest generation → `change(draft)` →
   * atomic commit → unlock. Nothing is written if the callback throws or changes nothing.
   * Keep the callback short (no image decoding or inference): other writers wait for it.
   */
  async mutate<T>(dir: string, change: (draft: StoreDraft) => T | Promise<T>, options: MutateOptions = {}): Promise<MutateResult<T>> {
    const root = path.resolve(dir);
    const create = options.create ?? true;
    if (create) prepareDir(root);
    else requireStoreDir(root);
    return withLock(root, { timeoutMs: options.lockTimeoutMs }, async (lock) => {
      rollForward(root);
      try {
        removeLeftovers(root);
      } catch (err) {
        throw storeIoError(err, 'remove leftovers of an interrupted commit', root);
      }
      // No generation yet (a new folder, or a first commit that never completed) reads as an empty store;
      // without `create` it is not written to unless the change adds something.
      const blank = storeDirKind(root) === 'blank';
      const base = blank ? emptySnapshot(root) : ((await stillCommitted(root, options.base)) ?? (await readSnapshot(root, options, true)));
      if (options.expectGeneration !== undefined && base.generation !== options.expectGeneration) {
        throw storeError(`store changed while this command ran (generation ${options.expectGeneration} → ${base.generation}): run it again`, root);
      }
      const now = options.now ?? new Date();
      const draft = new StoreDraft(base, now);
      const result = await change(draft);
      if (!draft.changed && (base.generation > 0 || !create)) return { result, snapshot: base, committed: false };
      const built = buildGeneration(draft, now);
      options.beforeCommit?.(built.snapshot);
      commitGeneration(root, built.generation, built.files, lock);
      return { result, snapshot: built.snapshot, committed: true };
    });
  },

  /**
   * Atomically writes (0600, fsync, rename) a file beside the store, e.g. an ANN index `index.hnsw`.
   * Key its validity on snapshot.embeddingsSha256 or generation; the store never reads side files.
   */
  async writeSideFile(dir: string, name: string, bytes: Uint8Array, options: OpenOptions = {}): Promise<void> {
    const root = path.resolve(dir);
    const target = sideFilePath(root, name);
    requireStoreDir(root);
    await withLock(root, { timeoutMs: options.lockTimeoutMs }, () => {
      const temp = sideTempName(name);
      try {
        writeFileDurable(root, temp, bytes);
        fs.renameSync(path.join(root, temp), target);
        fsyncDir(root);
      } catch (err) {
        try {
          unlinkIfExists(path.join(root, temp));
        } catch {
          /* removed as a leftover by the next writer */
        }
        throw storeIoError(err, `write ${name} (the previous version is intact)`, target);
      }
    });
  },

  /** A side file's bytes, or undefined if it was never written. */
  readSideFile(dir: string, name: string): Buffer | undefined {
    const target = sideFilePath(path.resolve(dir), name);
    try {
      return readIfExists(target);
    } catch (err) {
      throw storeIoError(err, `read ${name}`, target);
    }
  },

  /** Deletes a side file; false if it did not exist. */
  async removeSideFile(dir: string, name: string, options: OpenOptions = {}): Promise<boolean> {
    const root = path.resolve(dir);
    const target = sideFilePath(root, name);
    requireStoreDir(root);
    return withLock(root, { timeoutMs: options.lockTimeoutMs }, () => {
      try {
        const removed = unlinkIfExists(target);
        if (removed) fsyncDir(root);
        return removed;
      } catch (err) {
        throw storeIoError(err, `remove ${name}`, target);
      }
    });
  },

  /**
   * Runs `fn` holding the store lock, for files beside the store that other writers also touch (the
   * search index): STORE_ERROR if the lock stays busy for lockTimeoutMs.
   */
  async underLock<T>(dir: string, fn: () => T | Promise<T>, options: OpenOptions = {}): Promise<T> {
    const root = path.resolve(dir);
    requireStoreDir(root);
    return withLock(root, { timeoutMs: options.lockTimeoutMs }, () => fn());
  },

  /** Full check (checksums, norms, modes); changes nothing but completing an interrupted commit. */
  verify: verifyStore,

  /** Fixes what can be fixed (for `facectl index rebuild`) and lists what it did. */
  repair: repairStore,
};
