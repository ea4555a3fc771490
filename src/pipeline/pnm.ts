/**
 * Netpbm decoder (P2/P3 ASCII, P5/P6 binary; P1/P4 bitmaps refused) for the ORL face set and similar
 * research data. sharp's prebuilt libvips has no PNM loader, and the format is simple enough to read here.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { RgbImage } from './types.js';

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;

/** Reads whitespace-separated header tokens, skipping `#` comments. */
class HeaderReader {
  pos = 2; // after the magic "Pn"
  constructor(private readonly bytes: Uint8Array) {}

  nextInt(): number {
    const b = this.bytes;
    for (;;) {
      while (this.pos < b.length && isSpace(b[this.pos]!)) this.pos++;
      if (b[this.pos] !== 0x23 /* # */) break;
      while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
    }
    const start = this.pos;
    while (this.pos < b.length && b[this.pos]! >= 0x30 && b[this.pos]! <= 0x39) this.pos++;
    if (start === this.pos) throw new Error('bad header');
    return Number(String.fromCharCode(...b.subarray(start, this.pos)));
  }
}

export function decodePnm(bytes: Uint8Array, label: string | undefined, maxPixels: number): RgbImage {
  const fail = (why: string) => new FacectlError(ExitCode.BAD_IMAGE, why, label);
  const kind = bytes[1]! - 0x30;
  if (kind === 1 || kind === 4) throw fail('PBM bitmaps are not supported');
  const channels = kind === 3 || kind === 6 ? 3 : 1;
  const header = new HeaderReader(bytes);
  let width: number, height: number, maxval: number;
  try {
    width = header.nextInt();
    height = header.nextInt();
    maxval = header.nextInt();
  } catch {
    throw fail('corrupt PNM header');
  }
  if (width < 1 || height < 1 || maxval < 1 || maxval > 65535) throw fail('corrupt PNM header');
  if (width * height > maxPixels) throw fail('image too large (over the 100-megapixel limit)');
  const count = width * height * channels;
  const samples = new Float64Array(count);

  if (kind === 5 || kind === 6) {
    // Exactly one whitespace byte separates the header from the raster.
    const start = header.pos + 1;
    const bytesPerSample = maxval > 255 ? 2 : 1;
    if (bytes.length < start + count * bytesPerSample) throw fail('truncated PNM file');
    for (let i = 0; i < count; i++) {
      samples[i] = bytesPerSample === 1 ? bytes[start + i]! : (bytes[start + 2 * i]! << 8) | bytes[start + 2 * i + 1]!;
    }
  } else {
    try {
      for (let i = 0; i < count; i++) samples[i] = header.nextInt();
    } catch {
      throw fail('truncated PNM file');
    }
  }

  const data = new Uint8Array(width * height * 3);
  const scale = 255 / maxval;
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const v = samples[p * channels + (channels === 3 ? c : 0)]!;
      data[p * 3 + c] = Math.min(255, Math.round(v * scale));
    }
  }
  return { data, width, height };
}
