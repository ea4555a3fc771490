/**
 * On-disk container shared by both index kinds:
 *
 *   "FCTLVIX1" | u32 LE header length | header JSON | labels JSON (utf8) | payload bytes
 *
 * The header carries dim, count, the caller's store fingerprint and a CRC-32 of everything
 * after it, so a truncated, corrupt or out-of-date file is refused (StaleIndexError) and the
 * caller rebuilds. Writes go to a temp file in the same directory, are fsynced, then renamed
 * over the target, so a reader never sees half a file. Floats are stored little-endian
 * (the byte order of every platform Node's prebuilt binaries support).
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ExitCode, FacectlError } from '../errors.js';
import { fileKind } from '../file-kind.js';
import { isCount, isObject } from '../json-shape.js';
import type { IndexExpectation, IndexKind } from './types.js';

const MAGIC = Buffer.from('FCTLVIX1', 'latin1');
const FORMAT_VERSION = 1;
/** Bytes per read/write/checksum call: well under the 2 GiB single-call limit. */
const IO_CHUNK = 64 * 1024 * 1024;

export interface IndexFileHeader {
  version: number;
  kind: IndexKind;
  dim: number;
  /** Vectors in the index. */
  count: number;
  fingerprint: string;
  labelsBytes: number;
  payloadBytes: number;
  /** CRC-32 of labels + payload (the companion file has its own, below). */
  checksum: number;
  /** Kind-specific settings (stride for flat, HNSW parameters...). */
  params: Record<string, number | string | boolean>;
  /** HNSW: name, size and CRC-32 of the usearch file saved beside this one. */
  companion?: { file: string; bytes: number; checksum: number };
}

/** A saved index that cannot be used as is: missing, corrupt, or built from another store state. */
export class StaleIndexError extends FacectlError {
  constructor(
    readonly reason: string,
    file: string,
  ) {
    super(ExitCode.STORE_ERROR, `index is stale or unreadable (${reason}); rebuild it`, file);
    this.name = 'StaleIndexError';
  }
}

export const isStaleIndexError = (e: unknown): e is StaleIndexError => e instanceof StaleIndexError;

/** CRC-32 over byte ranges, chunked so huge typed arrays are fine. */
export function checksumOf(parts: readonly Uint8Array[], seed = 0): number {
  let crc = seed;
  for (const part of parts) {
    for (let at = 0; at < part.length; at += IO_CHUNK) crc = crc32(part.subarray(at, at + IO_CHUNK), crc);
  }
  return crc;
}

/** CRC-32 and size of a whole file, read in chunks. */
export function checksumOfFile(file: string): { bytes: number; checksum: number } {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const buffer = Buffer.allocUnsafe(Math.min(IO_CHUNK, Math.max(1, fstatSync(fd).size)));
    let crc = 0;
    let bytes = 0;
    for (;;) {
      const got = readSync(fd, buffer, 0, buffer.length, null);
      if (got === 0) return { bytes, checksum: crc };
      crc = crc32(buffer.subarray(0, got), crc);
      bytes += got;
    }
  } finally {
    closeSync(fd);
  }
}

/** A temp path beside `target` (same filesystem, so rename is atomic). */
export const tempPathFor = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);

/** What is at `file`, found without following a link or opening it (opening a FIFO blocks). */
function entryAt(file: string): { kind: 'missing' } | { kind: 'file' } | { kind: 'other'; what: string } {
  let stats: Stats;
  try {
    stats = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new FacectlError(ExitCode.STORE_ERROR, `cannot read index file: ${(e as Error).message}`, file);
  }
  return stats.isFile() ? { kind: 'file' } : { kind: 'other', what: fileKind(stats) };
}

const notAnIndexFile = (file: string, what: string): FacectlError =>
  new FacectlError(ExitCode.STORE_ERROR, `${file} is ${what}, not a search index file; facectl will not delete or replace it: move it away`);

/**
 * Throws STORE_ERROR (naming the path and what is there) unless `file` is missing or a regular file: what
 * sits where an index file belongs is deleted or replaced only when it is one (never a directory, a FIFO,
 * a link or a device that someone else put there).
 */
export function assertReplaceable(file: string): void {
  const entry = entryAt(file);
  if (entry.kind === 'other') throw notAnIndexFile(file, entry.what);
}

/** Deletes the index file `file` if there is one; STORE_ERROR when something else is there (assertReplaceable). */
export function removeIndexFile(file: string): void {
  const entry = entryAt(file);
  if (entry.kind === 'other') throw notAnIndexFile(file, entry.what);
  if (entry.kind === 'file') rmSync(file, { force: true });
}

/** The usearch graph an HNSW index file `file` has beside it. */
export const companionPath = (file: string): string => `${file}.usearch`;

/** Deletes a saved index: the file `file`, then the HNSW graph beside it (removeIndexFile each). */
export function removeSavedIndex(file: string): void {
  for (const f of [file, companionPath(file)]) removeIndexFile(f);
}

/** Writes `parts` to `target` atomically: temp file, fsync, rename. */
export function writeFileAtomic(target: string, parts: readonly Uint8Array[]): void {
  assertReplaceable(target);
  const temp = tempPathFor(target);
  try {
    const fd = openSync(temp, 'w', 0o600); // biometric data: private, like the store
    try {
      for (const part of parts) {
        for (let at = 0; at < part.length; ) at += writeSync(fd, part, at, Math.min(IO_CHUNK, part.length - at));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new FacectlError(ExitCode.STORE_ERROR, `cannot write index: ${(e as Error).message}`, target);
  }
}

/** Encodes header + labels; the caller writes [...prefix, payload] with writeFileAtomic. */
export function encodeIndexFile(
  header: Omit<IndexFileHeader, 'version' | 'labelsBytes' | 'payloadBytes' | 'checksum'>,
  labels: readonly (string | null)[],
  payload: Uint8Array,
): Uint8Array[] {
  const labelBytes = Buffer.from(JSON.stringify(labels), 'utf8');
  const checksum = checksumOf([labelBytes, payload]);
  const full: IndexFileHeader = {
    version: FORMAT_VERSION,
    ...header,
    labelsBytes: labelBytes.length,
    payloadBytes: payload.length,
    checksum,
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return [MAGIC, length, json, labelBytes, payload];
}

/** An open index file whose header and labels have been read and checked. */
export interface OpenedIndexFile {
  header: IndexFileHeader;
  labels: (string | null)[];
  /** Reads the payload into `target` (exactly header.payloadBytes long) and verifies the checksum. */
  readPayload(target: Uint8Array): void;
  close(): void;
}

function readExactly(fd: number, target: Uint8Array, position: number, file: string): void {
  for (let at = 0; at < target.length; ) {
    const got = readSync(fd, target, at, Math.min(IO_CHUNK, target.length - at), position + at);
    if (got === 0) throw new StaleIndexError('file is truncated', file);
    at += got;
  }
}

/**
 * StaleIndexError (about `indexFile`) unless `file` is a regular file, found with lstat, without opening it.
 * `file` is the index file itself or, for HNSW, the graph beside it (checked before usearch or a checksum
 * opens it).
 */
export function requireRegularFile(file: string, indexFile: string): void {
  let entry: ReturnType<typeof entryAt>;
  try {
    entry = entryAt(file);
  } catch {
    return; // let open report it
  }
  const graph = file === indexFile ? '' : `graph file ${path.basename(file)}`;
  if (entry.kind === 'missing') throw new StaleIndexError(graph ? `${graph} is missing` : 'no index file', indexFile);
  if (entry.kind === 'other') throw new StaleIndexError(`${graph || 'the index file'} is ${entry.what}`, indexFile);
}

/**
 * Opens an index file for reading. Anything but a regular file is stale (the caller rebuilds), found with
 * lstat before opening: opening a FIFO would block until a writer came, and reading a directory fails.
 * O_NONBLOCK keeps a FIFO swapped in after the lstat from blocking too; fstat then refuses it.
 */
function openForReading(file: string): number {
  requireRegularFile(file, file);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StaleIndexError(code === 'ENOENT' ? 'no index file' : `cannot open: ${code}`, file);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new StaleIndexError('not a regular file', file);
  }
  return fd;
}

/** Reads and parses the header; returns it with the offset where the labels start. */
function readHeader(fd: number, file: string): { header: IndexFileHeader; labelsAt: number; fileBytes: number } {
  const fileBytes = fstatSync(fd).size;
  const prefix = Buffer.alloc(12);
  if (fileBytes < prefix.length) throw new StaleIndexError('file is truncated', file);
  readExactly(fd, prefix, 0, file);
  if (!prefix.subarray(0, 8).equals(MAGIC)) throw new StaleIndexError('not a facectl index file', file);
  const headerLength = prefix.readUInt32LE(8);
  if (headerLength > 1 << 20 || 12 + headerLength > fileBytes) throw new StaleIndexError('file is truncated', file);
  const headerBytes = Buffer.alloc(headerLength);
  readExactly(fd, headerBytes, 12, file);
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch {
    throw new StaleIndexError('header is corrupt', file);
  }
  if (isObject(header) && typeof header.version === 'number' && header.version !== FORMAT_VERSION) {
    throw new StaleIndexError(`format version ${header.version}`, file); // another facectl's file, not a damaged one
  }
  const problem = headerProblem(header);
  if (problem) throw new StaleIndexError(`header is corrupt: ${problem}`, file);
  return { header: header as IndexFileHeader, labelsAt: 12 + headerLength, fileBytes };
}

const isCrc = (x: unknown): boolean => isCount(x) && (x as number) <= 0xffffffff;

/**
 * What makes a parsed header unusable, or null: the header is valid JSON with a CRC over what follows it,
 * not over itself, so a damaged one must be caught here, before its fields size buffers or name files.
 */
function headerProblem(h: unknown): string | null {
  if (!isObject(h)) return 'not an object';
  if (h.version !== FORMAT_VERSION) return `version ${JSON.stringify(h.version)}`;
  if (typeof h.kind !== 'string') return 'no kind';
  if (!Number.isInteger(h.dim) || (h.dim as number) < 1 || (h.dim as number) > 65536) return `dimension ${JSON.stringify(h.dim)}`;
  for (const key of ['count', 'labelsBytes', 'payloadBytes'] as const) {
    if (!isCount(h[key])) return `${key} ${JSON.stringify(h[key])}`;
  }
  if (typeof h.fingerprint !== 'string') return 'no fingerprint';
  if (!isCrc(h.checksum)) return 'no checksum';
  if (!isObject(h.params)) return 'no params';
  if (h.companion !== undefined) {
    const c = h.companion;
    if (!isObject(c) || !isPlainFileName(c.file) || !isCount(c.bytes) || !isCrc(c.checksum)) return 'companion file entry is invalid';
  }
  return null;
}

/** A file name in the index's own directory: no path separators, not '.' or '..', no NUL. */
const isPlainFileName = (x: unknown): x is string =>
  typeof x === 'string' && x.length > 0 && x !== '.' && x !== '..' && !/[\/\\\0]/.test(x);

/** Just the header of an index file (kind, dim, count, fingerprint): its shape is checked, not whether it matches a store. */
export function readIndexHeader(file: string): IndexFileHeader {
  const fd = openForReading(file);
  try {
    return readHeader(fd, file).header;
  } finally {
    closeSync(fd);
  }
}

/** Opens an index file, checks its header against what the caller expects, reads the labels. */
export function openIndexFile(file: string, expect: IndexExpectation = {}): OpenedIndexFile {
  const fd = openForReading(file);
  try {
    const { header, labelsAt, fileBytes } = readHeader(fd, file);
    checkHeader(header, expect, file);
    const payloadAt = labelsAt + header.labelsBytes;
    if (payloadAt + header.payloadBytes !== fileBytes) {
      throw new StaleIndexError(`file is ${fileBytes} bytes, header says ${payloadAt + header.payloadBytes}`, file);
    }
    const labelBytes = Buffer.alloc(header.labelsBytes);
    readExactly(fd, labelBytes, labelsAt, file);
    let labels: (string | null)[];
    try {
      labels = JSON.parse(labelBytes.toString('utf8')) as (string | null)[];
    } catch {
      throw new StaleIndexError('labels are corrupt', file);
    }
    if (!Array.isArray(labels)) throw new StaleIndexError('labels are corrupt', file);
    const verify = expect.verifyChecksum !== false;
    return {
      header,
      labels,
      readPayload(target) {
        readExactly(fd, target, payloadAt, file);
        if (verify && checksumOf([labelBytes, target]) !== header.checksum) {
          throw new StaleIndexError('checksum mismatch', file);
        }
      },
      close: () => closeSync(fd),
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function checkHeader(header: IndexFileHeader, expect: IndexExpectation, file: string): void {
  if (header.version !== FORMAT_VERSION) throw new StaleIndexError(`format version ${header.version}`, file);
  if (expect.kind && header.kind !== expect.kind) {
    throw new StaleIndexError(`kind is ${header.kind}, expected ${expect.kind}`, file);
  }
  if (expect.dim !== undefined && header.dim !== expect.dim) {
    throw new StaleIndexError(`dimension is ${header.dim}, expected ${expect.dim}`, file);
  }
  if (expect.count !== undefined && header.count !== expect.count) {
    throw new StaleIndexError(`holds ${header.count} vectors, store has ${expect.count}`, file);
  }
  if (expect.fingerprint !== undefined && header.fingerprint !== expect.fingerprint) {
    throw new StaleIndexError('store fingerprint changed', file);
  }
}
