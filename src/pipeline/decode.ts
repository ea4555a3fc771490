/**
 * Image decoding: file bytes → 8-bit RGB with EXIF orientation applied.
 * The format is sniffed from the bytes, never from the file extension (real datasets hold PNGs named .jpg
 * and WebPs named .jpeg). sharp decodes everything it can; PGM/PPM (the ORL set) and BMP go through small
 * parsers (pnm.ts, bmp.ts) because sharp's prebuilt libvips has no loader for them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stdinIsDirectory } from '../own-stdio.js';
import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { errorLine, ExitCode, FacectlError } from '../errors.js';
import { decodeBmp } from './bmp.js';
import { decodePnm } from './pnm.js';
import type { RgbImage } from './types.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif' | 'pnm' | 'bmp';

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
  /** sha256 of the file bytes: the image's identity in stores and caches. */
  sha256: string;
}

export interface DecodeLimits {
  /** Largest accepted file, bytes. */
  maxBytes: number;
  /** Largest accepted decoded size, pixels (a decompression bomb guard). */
  maxPixels: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 256 * 1024 * 1024, maxPixels: 100_000_000 };

const badImage = (message: string, file?: string) => new FacectlError(ExitCode.BAD_IMAGE, message, file);

/** Identify the container from its magic bytes; null when it is nothing we decode. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  const ascii = (start: number, text: string) =>
    text.split('').every((ch, i) => bytes[start + i] === ch.charCodeAt(0));
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 'PNG')) return 'png';
  if (bytes.length >= 12 && ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (bytes.length >= 6 && (ascii(0, 'GIF87a') || ascii(0, 'GIF89a'))) return 'gif';
  if (bytes.length >= 4 && ((ascii(0, 'II') && bytes[2] === 42 && bytes[3] === 0) || (ascii(0, 'MM') && bytes[2] === 0 && bytes[3] === 42)))
    return 'tiff';
  if (bytes.length >= 12 && ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    if (brand.startsWith('avi')) return 'avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'heim', 'heis'].includes(brand)) return 'heif';
  }
  if (bytes.length >= 2 && ascii(0, 'BM')) return 'bmp';
  if (bytes.length >= 3 && bytes[0] === 0x50 /* P */ && bytes[1]! >= 0x31 && bytes[1]! <= 0x36 && /\s/.test(String.fromCharCode(bytes[2]!)))
    return 'pnm';
  return null;
}

/** A human name for a file we refuse, so the error says what it is rather than "unsupported". */
function describeUnknown(bytes: Uint8Array): string {
  if (bytes.length >= 4 && bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46) return 'a PDF is not an image';
  const head = Buffer.from(bytes.subarray(0, 256)).toString('utf8');
  if (/^\s*</.test(head) && /svg/i.test(head)) return 'SVG drawings are not supported';
  return 'not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF, BMP, PGM/PPM)';
}

/** Decode image bytes (already read) to RGB. `label` names the source in errors. */
export async function decodeImageBytes(
  bytes: Uint8Array,
  label?: string,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<DecodedImage> {
  if (bytes.length === 0) throw badImage('empty file (0 bytes)', label);
  if (bytes.length > limits.maxBytes) throw badImage(`file too large (${bytes.length} bytes, limit ${limits.maxBytes})`, label);
  const format = sniffFormat(bytes);
  if (!format) throw badImage(describeUnknown(bytes), label);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  if (format === 'pnm' || format === 'bmp') {
    const img = (format === 'pnm' ? decodePnm : decodeBmp)(bytes, label, limits.maxPixels);
    return { ...img, format, sha256 };
  }

  try {
    const input = sharp(bytes, { failOn: 'truncated', limitInputPixels: limits.maxPixels, pages: 1 });
    const { data, info } = await input
      .rotate() // apply EXIF orientation, then drop it
      .flatten({ background: '#ffffff' }) // transparent pixels become white instead of undefined colour
      .toColourspace('srgb') // grayscale, CMYK and 16-bit inputs all become 8-bit sRGB
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels after conversion`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, format, sha256 };
  } catch (err) {
    throw badImage(isHevcHeif(bytes) ? HEVC_MESSAGE : sharpMessage(err, format), label);
  }
}

/**
 * HEIF brands of HEVC-coded images (what iPhones save as .heic). sharp's prebuilt libheif decodes AV1
 * (AVIF) only, so such a photo fails to load; saying "corrupt" would send the user looking for damage.
 */
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);
/** The ftyp box's major brand, or one of its compatible brands (Android phones write `mif1` + `heic`), is an HEVC one. */
function isHevcHeif(bytes: Uint8Array): boolean {
  if (bytes.length < 12 || String.fromCharCode(...bytes.subarray(4, 8)) !== 'ftyp') return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(view.getUint32(0), bytes.length, 4096);
  for (let at = 8; at + 4 <= end; at += at === 8 ? 8 : 4) if (HEVC_BRANDS.has(String.fromCharCode(...bytes.subarray(at, at + 4)))) return true;
  return false;
}
const HEVC_MESSAGE = 'HEIC photo (HEVC-coded, as iPhones save them): this build has no HEVC decoder; convert it to JPEG or PNG (on an iPhone: Settings › Camera › Formats › Most Compatible)';

/** Turn libvips' messages into one short line a user understands. */
function sharpMessage(err: unknown, format: ImageFormat): string {
  const msg = errorLine(err).trim();
  if (/pixel limit/i.test(msg)) return 'image too large (over the 100-megapixel limit)';
  if (/premature end|truncated|unexpected end|not enough data|EOF/i.test(msg)) return `truncated ${format.toUpperCase()} file`;
  if (/unsupported image format/i.test(msg)) return 'not a supported image';
  return `corrupt ${format.toUpperCase()} file (${msg})`;
}

/** The file name that means "the photo on standard input" (`facectl login -`, `verify a.jpg -`, `detect -`). */
export const STDIN_PHOTO = '-';

let stdinBytes: Promise<Buffer> | undefined;

/**
 * Standard input, read once per process (a contact sheet decodes the query photo again), refused when
 * it is a terminal (nothing was piped) or larger than `maxBytes`.
 */
function readStdinOnce(maxBytes: number): Promise<Buffer> {
  stdinBytes ??= (async () => {
    if (process.stdin.isTTY) throw new FacectlError(ExitCode.USAGE, `"${STDIN_PHOTO}" reads the photo from standard input, but nothing is piped in (e.g. facectl login - < photo.jpg)`);
    // `login - < some/folder`: the stream ends with no bytes (node drops EISDIR), which read as an empty file (exit 6).
    if (stdinIsDirectory()) throw new FacectlError(ExitCode.NOT_FOUND, 'is a directory, not an image', STDIN_LABEL);
    return readCapped(process.stdin as AsyncIterable<Buffer>, maxBytes, STDIN_LABEL);
  })();
  return stdinBytes;
}

const STDIN_LABEL = '(standard input)';

/** A stream's bytes, stopping with BAD_IMAGE as soon as they pass `maxBytes` (its size is not known ahead). */
async function readCapped(stream: AsyncIterable<Buffer>, maxBytes: number, label: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) throw badImage(`file too large (over ${maxBytes} bytes)`, label);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Read and decode an image file (`-`: standard input). Missing files → NOT_FOUND; anything
 * undecodable → BAD_IMAGE.
 */
export async function decodeImageFile(file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<DecodedImage> {
  if (file === STDIN_PHOTO) return decodeImageBytes(await readStdinOnce(limits.maxBytes), STDIN_LABEL, limits);
  let size: number;
  let regular: boolean;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new FacectlError(ExitCode.NOT_FOUND, 'is a directory, not an image', file);
    size = st.size;
    regular = st.isFile();
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    throw new FacectlError(ExitCode.NOT_FOUND, 'no such file', file);
  }
  if (size > limits.maxBytes) throw badImage(`file too large (${size} bytes, limit ${limits.maxBytes})`, file);
  let bytes: Buffer;
  try {
    // A pipe or device (`<(curl …)`, a FIFO) reports size 0: its bytes are counted as they come instead.
    bytes = regular ? await readFile(file) : await readCapped(createReadStream(file), limits.maxBytes, file);
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    throw new FacectlError(ExitCode.NOT_FOUND, `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file);
  }
  return decodeImageBytes(bytes, file, limits);
}
