/**
 * On-disk format of the embedding cache (see embedding-cache.ts for the layout and why):
 * a header (magic, version, dim, modelKey) then CRC-checked records.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { EmbeddingResult } from './scoring.js';

const FILE_MAGIC = Buffer.from('FCEC');
const FILE_VERSION = 1;
const KIND_EMBEDDING = 1;
const KIND_FAILURE = 2;
const RECORD_OVERHEAD = 1 + 32 + 4 + 4;
export const MAX_REASON_BYTES = 1000;

export function fileHeader(modelKey: string, dim: number): Buffer {
  const key = Buffer.from(modelKey, 'utf8');
  const h = Buffer.alloc(4 + 2 + 4 + 2 + key.length);
  FILE_MAGIC.copy(h, 0);
  h.writeUInt16LE(FILE_VERSION, 4);
  h.writeUInt32LE(dim, 6);
  h.writeUInt16LE(key.length, 10);
  key.copy(h, 12);
  return h;
}

/** The model key in a cache file's header; undefined when the file is not a cache file of this format. */
export function readHeaderKey(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(12 + 0xffff);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 12 || !head.subarray(0, 4).equals(FILE_MAGIC) || head.readUInt16LE(4) !== FILE_VERSION) return undefined;
    const keyLen = head.readUInt16LE(10);
    return n >= 12 + keyLen ? head.subarray(12, 12 + keyLen).toString('utf8') : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function encodeRecord(sha: Buffer, result: EmbeddingResult): Buffer {
  let payload: Buffer;
  if (result.ok) {
    payload = Buffer.alloc(result.embedding.length * 4);
    result.embedding.forEach((v, i) => payload.writeFloatLE(v, i * 4));
  } else {
    payload = Buffer.from(result.reason, 'utf8');
  }
  const rec = Buffer.alloc(RECORD_OVERHEAD + payload.length);
  rec.writeUInt8(result.ok ? KIND_EMBEDDING : KIND_FAILURE, 0);
  sha.copy(rec, 1);
  rec.writeUInt32LE(payload.length, 33);
  payload.copy(rec, 37);
  rec.writeUInt32LE(crc32(rec.subarray(0, 37 + payload.length)), 37 + payload.length);
  return rec;
}

export interface ReadOutcome {
  records: number;
  /** True when the file ended in a torn or corrupt record (ignored). */
  torn: boolean;
}

/** Reads one cache file into `into`. Files of another model or format are skipped; another dim for the same model throws. */
export function readCacheFile(file: string, modelKey: string, dim: number, into: Map<string, EmbeddingResult>): ReadOutcome {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return { records: 0, torn: false }; // removed by a concurrent compaction
  }
  const header = fileHeader(modelKey, dim);
  if (buf.length < header.length || !buf.subarray(0, 4).equals(FILE_MAGIC)) return { records: 0, torn: buf.length > 0 };
  if (buf.readUInt16LE(4) !== FILE_VERSION) return { records: 0, torn: false };
  const keyLen = buf.readUInt16LE(10);
  if (buf.subarray(12, 12 + keyLen).toString('utf8') !== modelKey) return { records: 0, torn: false };
  const fileDim = buf.readUInt32LE(6);
  if (fileDim !== dim) throw new RangeError(`embedding cache ${file} holds ${fileDim}-d embeddings for this model, not ${dim}-d`);

  let offset = header.length;
  let records = 0;
  while (offset < buf.length) {
    if (offset + RECORD_OVERHEAD > buf.length) return { records, torn: true };
    const kind = buf.readUInt8(offset);
    const len = buf.readUInt32LE(offset + 33);
    const end = offset + 37 + len;
    if (end + 4 > buf.length) return { records, torn: true };
    if (crc32(buf.subarray(offset, end)) !== buf.readUInt32LE(end)) return { records, torn: true };
    const sha = buf.subarray(offset + 1, offset + 33).toString('hex');
    if (kind === KIND_EMBEDDING && len === dim * 4) {
      const e = new Float32Array(dim);
      for (let i = 0; i < dim; i++) e[i] = buf.readFloatLE(offset + 37 + i * 4);
      into.set(sha, { ok: true, embedding: e });
    } else if (kind === KIND_FAILURE) {
      into.set(sha, { ok: false, reason: buf.subarray(offset + 37, end).toString('utf8') });
    } else {
      return { records, torn: true };
    }
    records++;
    offset = end + 4;
  }
  return { records, torn: false };
}
