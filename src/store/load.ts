/**
 * Reading a committed generation without the lock. The reader reads manifest.json, then data.csv and
 * embeddings.f32, and checks they belong together (data.csv sha256, dump size, header model and
 * generation stamp). If they do not and the manifest changed meanwhile or a commit journal is pending,
 * a writer was mid-commit: the reader completes or waits for it and reads again. Only a mismatch with
 * a stable manifest and no journal is reported as damage.
 */
import { createHash, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { journalPending, rollForward } from './commit.js';
import { CSV_COLUMNS, CsvFormatError, decodeDataCsv } from './csv.js';
import { type RowIndex, scanDataCsvIndex } from './csv-index.js';
import { decodeDumpHeader, DumpFormatError, DUMP_HEADER_BYTES, type DumpHeader, dumpBytes, dumpVectors } from './dump.js';
import { errnoCode, readIfExists, readIfExistsAsync, readSizeAndHeadIfExists, sleep, storeError, storeIoError } from './fsio.js';
import { DEFAULT_LOCK_TIMEOUT_MS, liveHolder, StoreLockedError, withLock } from './lock.js';
import { encodeManifest, type Manifest, ManifestFormatError, parseManifest } from './manifest.js';
import { DATA_FILE, DUMP_FILE, LOCK_FILE, MANIFEST_FILE } from './names.js';
import { type RowsSource, StoreHead, StoreSnapshot } from './snapshot.js';
import type { FaceRow } from './types.js';

export interface OpenOptions {
  /** How long to wait for a writer (lock or in-flight commit), in ms (default 10 000). */
  lockTimeoutMs?: number;
  /** Also hash all of embeddings.f32 against the manifest (≈0.9 s per 200 MB; verify() always does). */
  verifyEmbeddings?: boolean;
}

/** The files do not form a valid generation (mid-commit, or damaged). */
export class InconsistentStore extends Error {}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const UTF8 = new TextDecoder('utf-8');

/** sha256 computed on libuv's thread pool (WebCrypto), so the main thread can parse meanwhile. */
export async function sha256HexOffThread(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

const bad = (what: string): never => {
  throw new InconsistentStore(what);
};

function parseManifestOrBad(text: string, dir: string): Manifest {
  try {
    return parseManifest(text, dir);
  } catch (err) {
    if (err instanceof ManifestFormatError) bad(err.message);
    throw err;
  }
}

/** Full decode of rows whose index was already checked: any disagreement is damage. */
function decodeIndexedRows(dir: string, text: string, index: RowIndex): FaceRow[] {
  const { rows, problems } = decodeDataCsv(text);
  if (problems.length > 0) throw damaged(dir, problems.length === 1 ? problems[0]! : `${problems[0]} (and ${problems.length - 1} more)`);
  const agrees = rows.length === index.ids.length && rows.every((r, i) => r.id === index.ids[i] && r.embeddingIndex === index.embeddingRows[i]);
  if (!agrees) throw damaged(dir, `${DATA_FILE} rows do not match their index`);
  return rows;
}

const CSV_HEADER_LINE = `${CSV_COLUMNS.join(',')}\r\n`;

/**
 * The rows at `positions` alone, decoded from where the index scan found them, with the full decode's
 * checks; on any problem the full decode runs, to name the row at fault as it does.
 */
function decodeIndexedRowsAt(dir: string, text: string, index: RowIndex, positions: readonly number[]): FaceRow[] {
  const starts = index.starts;
  if (starts && starts.length === index.ids.length) {
    let part = CSV_HEADER_LINE;
    for (const i of positions) {
      const slice = text.slice(starts[i]!, i + 1 < starts.length ? starts[i + 1]! : text.length);
      part += slice.endsWith('\n') ? slice : `${slice}\r\n`;
    }
    const { rows, problems } = decodeDataCsv(part);
    const agrees =
      !problems.length && rows.length === positions.length && rows.every((r, k) => r.id === index.ids[positions[k]!] && r.embeddingIndex === index.embeddingRows[positions[k]!]);
    if (agrees) return rows;
  }
  const all = decodeIndexedRows(dir, text, index);
  return positions.map((i) => all[i]!);
}

/** data.csv against the manifest: size and sha256, then the index columns (full rows decode lazily). */
async function checkData(dir: string, manifest: Manifest, data: Buffer | undefined): Promise<RowsSource & { index: RowIndex }> {
  const want = manifest.files[DATA_FILE];
  if (!data) return bad(`${DATA_FILE} is missing`);
  const mismatch = `${DATA_FILE} does not match its checksum in ${MANIFEST_FILE} (edited outside facectl?)`;
  if (data.length !== want.bytes) bad(mismatch);
  const digest = sha256HexOffThread(data);
  const text = UTF8.decode(data); // drops the BOM; several times faster than Buffer#toString on 24 MB
  let index: RowIndex | undefined;
  let unreadable: CsvFormatError | undefined;
  try {
    index = scanDataCsvIndex(text);
  } catch (err) {
    if (!(err instanceof CsvFormatError)) throw err;
    unreadable = err;
  }
  // A checksum mismatch explains an unreadable file, so it is reported first.
  if ((await digest) !== want.sha256) bad(mismatch);
  if (unreadable) bad(unreadable.message);
  return { index: index!, decode: () => decodeIndexedRows(dir, text, index!), decodeAt: (positions) => decodeIndexedRowsAt(dir, text, index!, positions) };
}

/** What was read of embeddings.f32: all of it, or (a reader that needs no embedding) its size and header. */
export type DumpRead = { whole: Buffer } | { size: number; head: Buffer };

/**
 * embeddings.f32 against the manifest and the rows: size, header model and generation stamp, row mapping.
 * The embeddings as one array when the whole file was read; undefined when only its size and header were
 * (checked the same way: only `verifyEmbeddings`, the full sha256, needs the whole file).
 */
function checkDump(manifest: Manifest, dump: DumpRead | undefined, index: RowIndex, verifyEmbeddings: boolean): Float32Array | undefined {
  const want = manifest.files[DUMP_FILE];
  if (!dump) return bad(`${DUMP_FILE} is missing`);
  const whole = 'whole' in dump ? dump.whole : undefined;
  const size = whole ? whole.length : (dump as { size: number }).size;
  if (size !== want.bytes) bad(`${DUMP_FILE} is ${size} bytes; ${MANIFEST_FILE} says ${want.bytes}`);
  let header: DumpHeader | undefined;
  try {
    header = decodeDumpHeader(whole ?? (dump as { head: Buffer }).head);
  } catch (err) {
    if (err instanceof DumpFormatError) bad(err.message);
    throw err;
  }
  const h = header!;
  if (h.generation !== manifest.embeddingsGeneration) {
    bad(`${DUMP_FILE} was written by commit ${h.generation}; ${MANIFEST_FILE} expects ${manifest.embeddingsGeneration}`);
  }
  if (dumpBytes(h) !== size) bad(`${DUMP_FILE} size does not match its header (truncated?)`);
  const model = manifest.model;
  const headerModel = `${h.modelId}|${h.modelHash}|${h.dimension}`;
  if (headerModel !== (model ? `${model.id}|${model.hash}|${model.dimension}` : '||0')) {
    bad(`${DUMP_FILE} header names model "${h.modelId}" (dim ${h.dimension}); ${MANIFEST_FILE} names "${model?.id ?? ''}"`);
  }
  if (verifyEmbeddings && whole && sha256Hex(whole) !== want.sha256) bad(`${DUMP_FILE} does not match its checksum in ${MANIFEST_FILE}`);
  const faces = index.ids.length;
  if (faces !== h.rows) bad(`${DATA_FILE} has ${faces} rows but ${DUMP_FILE} has ${h.rows} embeddings`);
  if (faces !== manifest.counts.faces) bad(`${MANIFEST_FILE} counts ${manifest.counts.faces} faces; ${DATA_FILE} has ${faces}`);
  const used = new Uint8Array(h.rows);
  for (let i = 0; i < faces; i++) {
    const at = index.embeddingRows[i]!;
    if (at >= h.rows) bad(`${DATA_FILE} row ${i + 1} points to embedding ${at}, past the end of ${DUMP_FILE}`);
    if (used[at]) bad(`${DATA_FILE} row ${i + 1} reuses embedding ${at}`);
    used[at] = 1;
    if (index.modelIds[i] !== model?.id) bad(`${DATA_FILE} row ${i + 1} was embedded with model "${index.modelIds[i]}", the store uses "${model?.id}"`);
  }
  const identities = new Set(index.ids).size;
  if (identities !== manifest.counts.identities) bad(`${MANIFEST_FILE} counts ${manifest.counts.identities} identities; ${DATA_FILE} has ${identities}`);
  return whole ? dumpVectors(whole, h) : undefined;
}

/**
 * Whether the files in the snapshot's folder are still the ones it holds (a caller's own snapshot, to be the
 * base of a commit instead of reading the store again): manifest.json byte for byte as the snapshot's (a
 * hand-edited threshold or count is not written back over), data.csv by its size and sha256 (a hand edit,
 * which `index rebuild` is there to accept, is not overwritten from memory), embeddings.f32 by its size and
 * header, checked as open checks them. Any doubt is false. At 1e5 faces this costs a hash of data.csv
 * (≈70 MB) against a full read of both files.
 */
export async function filesUnchanged(snapshot: StoreSnapshot): Promise<boolean> {
  const { dir, manifest } = snapshot;
  try {
    const text = readIfExists(path.join(dir, MANIFEST_FILE));
    if (!text || text.toString('utf8') !== encodeManifest(manifest)) return false;
    const data = readIfExists(path.join(dir, DATA_FILE));
    const want = manifest.files[DATA_FILE];
    if (!data || data.length !== want.bytes || (await sha256HexOffThread(data)) !== want.sha256) return false;
    checkDump(manifest, readSizeAndHeadIfExists(path.join(dir, DUMP_FILE), DUMP_HEADER_BYTES), snapshot.index, false);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that the three files form one valid generation and builds its snapshot (a StoreHead when only
 * the dump's size and header were read). `dump` may still be loading: data.csv is checked and parsed meanwhile.
 */
export async function checkGeneration(
  dir: string,
  manifestText: string,
  data: Buffer | undefined,
  dump: DumpRead | undefined | Promise<DumpRead | undefined>,
  verifyEmbeddings: boolean,
): Promise<StoreHead> {
  const manifest = parseManifestOrBad(manifestText, dir);
  const rows = await checkData(dir, manifest, data);
  const vectors = checkDump(manifest, await dump, rows.index, verifyEmbeddings);
  return vectors ? new StoreSnapshot(dir, manifest, rows, vectors) : new StoreHead(dir, manifest, rows);
}

const damaged = (dir: string, why: string): FacectlError =>
  storeError(`store is damaged: ${why}: run \`facectl index rebuild\``, dir);

function readStoreFile(dir: string, name: string): Buffer | undefined {
  try {
    return readIfExists(path.join(dir, name));
  } catch (err) {
    throw storeIoError(err, `read ${name}`, path.join(dir, name));
  }
}

/** Throws NOT_FOUND / STORE_ERROR when `dir` holds no store. */
function noStore(dir: string): never {
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw storeIoError(err, 'open the store', dir);
  }
  if (!isDir) throw new FacectlError(ExitCode.NOT_FOUND, 'no store here: enroll someone first, or pass --store', dir);
  if (fs.existsSync(path.join(dir, DATA_FILE))) throw damaged(dir, `${MANIFEST_FILE} is missing`);
  throw storeError(`not a facectl store (no ${MANIFEST_FILE})`, dir);
}

/**
 * Returns once no commit is pending. A pending commit whose writer lives (it holds the lock) is left to
 * it: the reader waits for its journal to go, polling, without taking the lock (readers take none, and
 * competing with every writer for it, as readers did, could keep a reader waiting past its timeout under
 * a steady stream of writes). Only a commit whose writer died is completed here, under the lock.
 * StoreLockedError past `deadline` (`started`: when the reader began, for the message).
 */
async function awaitPendingCommit(dir: string, started: number, deadline: number): Promise<void> {
  let pause = 1;
  const holderNow = () => {
    try {
      return liveHolder(dir);
    } catch (err) {
      throw storeIoError(err, 'read the store lock', path.join(dir, LOCK_FILE));
    }
  };
  while (journalPending(dir)) {
    const holder = holderNow();
    if (!holder) {
      // Its writer died after the commit point: finish the commit. Only one try for the lock: a live
      // process that takes it first (any writer completes a pending commit first) is waited for below.
      try {
        await withLock(dir, { timeoutMs: 0 }, () => rollForward(dir));
        return;
      } catch (err) {
        if (!(err instanceof StoreLockedError)) throw err;
      }
    }
    const now = Date.now();
    if (now >= deadline) throw new StoreLockedError(holder ?? holderNow(), now - started, dir, ', which is committing');
    await sleep(Math.min(pause * (0.5 + Math.random()), deadline - now));
    pause = Math.min(pause * 2, 50);
  }
}

/**
 * Reads a consistent snapshot. `lockHeld`: the caller holds the lock (and has rolled forward), so any
 * inconsistency is damage, not a commit in flight.
 */
export async function readSnapshot(dir: string, options: OpenOptions = {}, lockHeld = false): Promise<StoreSnapshot> {
  return (await readGeneration(dir, options, lockHeld, true)) as StoreSnapshot;
}

/**
 * What readSnapshot reads and checks, without loading the embeddings: embeddings.f32's size and header are
 * checked as open checks them (its full sha256 is not, as open does not without `verifyEmbeddings`, which
 * this ignores), so a damaged or mid-commit store is told as open tells it.
 */
export async function readHead(dir: string, options: OpenOptions = {}): Promise<StoreHead> {
  return readGeneration(dir, { ...options, verifyEmbeddings: false }, false, false);
}

async function readGeneration(dir: string, options: OpenOptions, lockHeld: boolean, embeddings: boolean): Promise<StoreHead> {
  const timeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    // A commit is being applied (wait for it), or its writer died (finish it).
    if (!lockHeld) await awaitPendingCommit(dir, started, deadline);
    const manifestBytes = readStoreFile(dir, MANIFEST_FILE);
    if (!manifestBytes) {
      if (!lockHeld && journalPending(dir)) continue;
      noStore(dir);
    }
    // Start the big read first; it completes on the thread pool while data.csv is checked and parsed.
    const dumpFile = path.join(dir, DUMP_FILE);
    const read: Promise<DumpRead | undefined> = embeddings
      ? readIfExistsAsync(dumpFile).then((whole) => (whole ? { whole } : undefined))
      : Promise.resolve().then(() => readSizeAndHeadIfExists(dumpFile, DUMP_HEADER_BYTES));
    const dump = read.catch((err: unknown) => {
      throw storeIoError(err, `read ${DUMP_FILE}`, dumpFile);
    });
    dump.catch(() => undefined); // handled below; avoids an unhandled rejection if data.csv fails first
    try {
      const data = readStoreFile(dir, DATA_FILE);
      return await checkGeneration(dir, manifestBytes!.toString('utf8'), data, dump, options.verifyEmbeddings ?? false);
    } catch (err) {
      if (!(err instanceof InconsistentStore)) throw err;
      if (lockHeld) throw damaged(dir, err.message);
      const again = readStoreFile(dir, MANIFEST_FILE);
      const writerActive = !again || !again.equals(manifestBytes!) || journalPending(dir);
      if (!writerActive) throw damaged(dir, err.message);
      if (Date.now() > deadline) throw storeError(`store kept changing while being read (${err.message})`, dir);
      await sleep(Math.min(2 ** attempt, 50));
    }
  }
}
