/**
 * embeddings.f32: a fixed 256-byte little-endian header, then `rows` × `dimension` float32 (LE) values,
 * one L2-normalised embedding per row, in data.csv's `embedding_row` order.
 *
 *   offset size  field
 *        0    8  magic "FCTLEMB1" (ASCII)
 *        8    4  u32 format version (1)
 *       12    4  u32 header size in bytes (256) = offset of the first float
 *       16    4  u32 dimension
 *       20    4  u32 row count
 *       24    4  u32 generation of the store commit that wrote this file
 *       28    4  reserved (0)
 *       32   64  model id, UTF-8, NUL-padded
 *       96  128  model hash, UTF-8, NUL-padded
 *      224   32  reserved (0)
 */
import os from 'node:os';

export const DUMP_MAGIC = 'FCTLEMB1';
export const DUMP_VERSION = 1;
export const DUMP_HEADER_BYTES = 256;
const MODEL_ID_AT = 32;
const MODEL_ID_BYTES = 64;
const MODEL_HASH_AT = 96;
const MODEL_HASH_BYTES = 128;

export interface DumpHeader {
  version: number;
  dimension: number;
  rows: number;
  generation: number;
  /** Empty strings in a store that has no model yet (no faces ever enrolled). */
  modelId: string;
  modelHash: string;
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

function writeText(buf: Buffer, text: string, at: number, size: number): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > size) throw new Error(`"${text}" is longer than ${size} bytes`);
  bytes.copy(buf, at);
}

function readText(buf: Buffer, at: number, size: number): string {
  const field = buf.subarray(at, at + size);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? size : end).toString('utf8');
}

function writeHeader(out: Buffer, header: Omit<DumpHeader, 'version'>): void {
  out.write(DUMP_MAGIC, 0, 'ascii');
  out.writeUInt32LE(DUMP_VERSION, 8);
  out.writeUInt32LE(DUMP_HEADER_BYTES, 12);
  out.writeUInt32LE(header.dimension, 16);
  out.writeUInt32LE(header.rows, 20);
  out.writeUInt32LE(header.generation, 24);
  writeText(out, header.modelId, MODEL_ID_AT, MODEL_ID_BYTES);
  writeText(out, header.modelHash, MODEL_HASH_AT, MODEL_HASH_BYTES);
}

/** The complete file: header plus `vectors` (row-major, length rows × dimension). */
export function encodeDump(header: Omit<DumpHeader, 'version'>, vectors: Float32Array): Buffer {
  const floats = header.rows * header.dimension;
  if (vectors.length !== floats) throw new Error(`dump needs ${floats} floats, got ${vectors.length}`);
  const out = Buffer.alloc(DUMP_HEADER_BYTES + floats * 4);
  writeHeader(out, header);
  if (LITTLE_ENDIAN_HOST) {
    Buffer.from(vectors.buffer, vectors.byteOffset, floats * 4).copy(out, DUMP_HEADER_BYTES);
  } else {
    for (let i = 0; i < floats; i++) out.writeFloatLE(vectors[i]!, DUMP_HEADER_BYTES + i * 4);
  }
  return out;
}

/**
 * A zeroed dump with its header written, and `vectors` to fill (row-major). On little-endian hosts the
 * vectors are a view into the file bytes, so a 200 MB dump is not copied again; finish() returns the file.
 */
export function allocDump(header: Omit<DumpHeader, 'version'>): { vectors: Float32Array; finish(): Buffer } {
  const floats = header.rows * header.dimension;
  if (!LITTLE_ENDIAN_HOST) {
    const vectors = new Float32Array(floats);
    return { vectors, finish: () => encodeDump(header, vectors) };
  }
  const out = Buffer.alloc(DUMP_HEADER_BYTES + floats * 4);
  writeHeader(out, header);
  return { vectors: new Float32Array(out.buffer, out.byteOffset + DUMP_HEADER_BYTES, floats), finish: () => out };
}

/** Thrown with a one-line reason when the bytes are not a well-formed dump. */
export class DumpFormatError extends Error {}

export function decodeDumpHeader(buf: Buffer): DumpHeader {
  if (buf.length < DUMP_HEADER_BYTES) throw new DumpFormatError(`embeddings.f32 is ${buf.length} bytes, shorter than its header`);
  if (buf.toString('ascii', 0, 8) !== DUMP_MAGIC) throw new DumpFormatError('embeddings.f32 does not start with FCTLEMB1');
  const version = buf.readUInt32LE(8);
  if (version !== DUMP_VERSION) throw new DumpFormatError(`embeddings.f32 has format version ${version}; this facectl reads ${DUMP_VERSION}`);
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes !== DUMP_HEADER_BYTES) throw new DumpFormatError(`embeddings.f32 header size is ${headerBytes}, expected ${DUMP_HEADER_BYTES}`);
  return {
    version,
    dimension: buf.readUInt32LE(16),
    rows: buf.readUInt32LE(20),
    generation: buf.readUInt32LE(24),
    modelId: readText(buf, MODEL_ID_AT, MODEL_ID_BYTES),
    modelHash: readText(buf, MODEL_HASH_AT, MODEL_HASH_BYTES),
  };
}

/** Bytes the file must have for its header's rows × dimension. */
export const dumpBytes = (h: Pick<DumpHeader, 'rows' | 'dimension'>): number => DUMP_HEADER_BYTES + h.rows * h.dimension * 4;

/**
 * The rows as one Float32Array without copying when the host is little-endian and the data is 4-byte
 * aligned (it is for a buffer read from offset 0 into its own allocation); otherwise a decoded copy.
 */
export function dumpVectors(buf: Buffer, header: DumpHeader): Float32Array {
  const floats = header.rows * header.dimension;
  const start = buf.byteOffset + DUMP_HEADER_BYTES;
  if (LITTLE_ENDIAN_HOST && start % 4 === 0) return new Float32Array(buf.buffer, start, floats);
  const out = new Float32Array(floats);
  for (let i = 0; i < floats; i++) out[i] = buf.readFloatLE(DUMP_HEADER_BYTES + i * 4);
  return out;
}
