/**
 * Windows bitmap (BMP/DIB) decoder → 8-bit RGB. sharp's prebuilt libvips has no BMP loader, yet webcam
 * tools, Windows screenshots and old face sets (FERET-era exports) write BMP, and face_recognition
 * (PIL) and deepface (OpenCV) read it. Covered: the core (OS/2 1.x) and INFO/V2–V5 headers; 1, 4 and
 * 8 bits with a palette, 16 and 32 bits with default or BITFIELDS masks, 24 bits; RLE8 and RLE4;
 * bottom-up and top-down rows. Alpha, where a mask gives one, is composited on white as the other
 * formats are (decode.ts). Embedded JPEG/PNG and Huffman/RLE24 (OS/2) are refused with the reason.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { RgbImage } from './types.js';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

interface Masks {
  r: number;
  g: number;
  b: number;
  a: number;
}

/** One channel of a masked pixel: its bits, scaled to 0..255. */
class Channel {
  private readonly shift: number;
  private readonly max: number;
  constructor(readonly mask: number) {
    let shift = 0;
    while (mask !== 0 && ((mask >>> shift) & 1) === 0) shift++;
    this.shift = shift;
    this.max = mask === 0 ? 0 : (mask >>> shift) >>> 0;
  }
  read(pixel: number): number {
    return this.max === 0 ? 0 : Math.round((((pixel & this.mask) >>> this.shift) * 255) / this.max);
  }
}

export function decodeBmp(bytes: Uint8Array, label: string | undefined, maxPixels: number): RgbImage {
  const fail = (why: string) => new FacectlError(ExitCode.BAD_IMAGE, why, label);
  if (bytes.length < 26) throw fail('truncated BMP file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && headerSize < 40) throw fail(`corrupt BMP header (DIB header of ${headerSize} bytes)`);
  if (14 + headerSize > bytes.length) throw fail('truncated BMP file');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getInt16(20, true) : view.getInt32(22, true);
  const bpp = view.getUint16(core ? 24 : 28, true);
  const compression = core ? BI_RGB : view.getUint32(30, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width < 1 || height < 1) throw fail(`corrupt BMP header (${width}×${rawHeight} pixels)`);
  if (width * height > maxPixels) throw fail('image too large (over the 100-megapixel limit)');
  // OS/2 2.x headers (64 bytes) give 3 and 4 other meanings: Huffman 1D and RLE24.
  if (headerSize === 64 && (compression === 3 || compression === 4)) throw fail('OS/2 Huffman- or RLE24-compressed BMP files are not supported');
  if (compression === BI_JPEG || compression === BI_PNG) throw fail('BMP files holding a JPEG or PNG are not supported (convert to PNG or JPEG)');
  if (![BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_ALPHABITFIELDS].includes(compression)) throw fail(`unsupported BMP compression ${compression}`);
  if ((compression === BI_RLE8 && bpp !== 8) || (compression === BI_RLE4 && bpp !== 4)) throw fail(`corrupt BMP header (RLE with ${bpp} bits per pixel)`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw fail(`unsupported BMP depth (${bpp} bits per pixel)`);

  // Masks: after an INFO header for (ALPHA)BITFIELDS, inside V2+ headers; defaults otherwise.
  let masks: Masks = bpp === 16 ? { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 } : { r: 0xff0000, g: 0xff00, b: 0xff, a: 0 };
  let paletteStart = 14 + headerSize;
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    if (bpp !== 16 && bpp !== 32) throw fail(`corrupt BMP header (bit-field masks with ${bpp} bits per pixel)`);
    const at = 54;
    const count = headerSize >= 56 || compression === BI_ALPHABITFIELDS ? 4 : 3;
    if (at + 4 * count > bytes.length) throw fail('truncated BMP file');
    const m = (i: number) => view.getUint32(at + 4 * i, true);
    masks = { r: m(0), g: m(1), b: m(2), a: count === 4 ? m(3) : 0 };
    if (headerSize === 40) paletteStart += 4 * count;
  } else if (headerSize >= 56 && bpp === 32) {
    masks.a = view.getUint32(66, true); // V3+: an alpha mask may come with plain BI_RGB
  }

  // Palette (1/4/8 bits): BGR triples in core files, BGRx quads otherwise.
  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const entry = core ? 3 : 4;
    const used = core ? 0 : view.getUint32(46, true);
    const count = Math.min(used > 0 ? used : 1 << bpp, 1 << bpp, Math.floor((Math.min(dataOffset, bytes.length) - paletteStart) / entry));
    if (count < 1) throw fail('corrupt BMP file (no colour palette)');
    palette = new Uint8Array(256 * 3); // indices past the palette read black
    for (let i = 0; i < count; i++) {
      const p = paletteStart + i * entry;
      palette[i * 3] = bytes[p + 2]!;
      palette[i * 3 + 1] = bytes[p + 1]!;
      palette[i * 3 + 2] = bytes[p]!;
    }
  }
  if (dataOffset >= bytes.length) throw fail('truncated BMP file');

  const rgb = new Uint8Array(width * height * 3);
  /** Row `y` of the file (0 = first stored) is image row `rowOf(y)`. */
  const rowOf = (y: number) => (topDown ? y : height - 1 - y);
  const pixels = bytes.subarray(dataOffset);
  if (compression === BI_RLE8 || compression === BI_RLE4) decodeRle(pixels, width, height, bpp, palette!, rgb, rowOf);
  else decodeRows(pixels, width, height, bpp, palette, masks, rgb, rowOf, fail);
  return { data: rgb, width, height };
}

function decodeRows(
  pixels: Uint8Array,
  width: number,
  height: number,
  bpp: number,
  palette: Uint8Array | undefined,
  masks: Masks,
  rgb: Uint8Array,
  rowOf: (y: number) => number,
  fail: (why: string) => FacectlError,
): void {
  const stride = Math.ceil((width * bpp) / 32) * 4;
  // The last row need not carry its padding.
  if (pixels.length < stride * (height - 1) + Math.ceil((width * bpp) / 8)) throw fail('truncated BMP file');
  const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const [r, g, b, a] = [new Channel(masks.r), new Channel(masks.g), new Channel(masks.b), new Channel(masks.a)];
  // Writers that leave an alpha mask but write 0 everywhere mean an opaque image (as browsers read them).
  let alpha = masks.a !== 0;
  if (alpha) {
    alpha = false;
    for (let y = 0; y < height && !alpha; y++)
      for (let x = 0; x < width; x++) {
        const at = y * stride + x * (bpp / 8);
        if (a.read(bpp === 16 ? view.getUint16(at, true) : view.getUint32(at, true)) !== 0) {
          alpha = true;
          break;
        }
      }
  }
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const out = rowOf(y) * width * 3;
    for (let x = 0; x < width; x++) {
      const o = out + x * 3;
      if (palette) {
        const perByte = 8 / bpp;
        const byte = pixels[row + Math.floor(x / perByte)]!;
        const index = (byte >> ((perByte - 1 - (x % perByte)) * bpp)) & ((1 << bpp) - 1);
        rgb[o] = palette[index * 3]!;
        rgb[o + 1] = palette[index * 3 + 1]!;
        rgb[o + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24) {
        const p = row + x * 3;
        rgb[o] = pixels[p + 2]!;
        rgb[o + 1] = pixels[p + 1]!;
        rgb[o + 2] = pixels[p]!;
      } else {
        const value = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        const opacity = alpha ? a.read(value) / 255 : 1;
        // Composited on white, as decode.ts flattens transparent PNGs.
        rgb[o] = Math.round(r.read(value) * opacity + 255 * (1 - opacity));
        rgb[o + 1] = Math.round(g.read(value) * opacity + 255 * (1 - opacity));
        rgb[o + 2] = Math.round(b.read(value) * opacity + 255 * (1 - opacity));
      }
    }
  }
}

/**
 * RLE8 / RLE4: runs of one index (two alternating nibbles for RLE4), escapes for end of line (0), end of
 * bitmap (1), delta (2) and literal runs (≥ 3, padded to 16 bits). Pixels the stream skips or never
 * reaches take palette index 0, as Pillow and OpenCV give them.
 */
function decodeRle(src: Uint8Array, width: number, height: number, bpp: number, palette: Uint8Array, rgb: Uint8Array, rowOf: (y: number) => number): void {
  for (let o = 0; o < rgb.length; o += 3) rgb.set(palette.subarray(0, 3), o);
  let x = 0, y = 0, i = 0;
  const put = (index: number) => {
    if (x < width && y < height) {
      const o = (rowOf(y) * width + x) * 3;
      rgb[o] = palette[index * 3]!;
      rgb[o + 1] = palette[index * 3 + 1]!;
      rgb[o + 2] = palette[index * 3 + 2]!;
    }
    x++;
  };
  while (i + 1 < src.length && y < height) {
    const count = src[i]!, value = src[i + 1]!;
    i += 2;
    if (count > 0) {
      for (let k = 0; k < count; k++) put(bpp === 8 ? value : k % 2 === 0 ? value >> 4 : value & 0x0f);
    } else if (value === 0) {
      x = 0;
      y++;
    } else if (value === 1) {
      break;
    } else if (value === 2) {
      if (i + 1 >= src.length) break;
      x += src[i]!;
      y += src[i + 1]!;
      i += 2;
    } else {
      // A literal run of `value` indices, padded to a 16-bit boundary.
      const n = value;
      const length = bpp === 8 ? n : Math.ceil(n / 2);
      for (let k = 0; k < n && i + (bpp === 8 ? k : k >> 1) < src.length; k++) {
        const byte = src[i + (bpp === 8 ? k : k >> 1)]!;
        put(bpp === 8 ? byte : k % 2 === 0 ? byte >> 4 : byte & 0x0f);
      }
      i += length + (length % 2);
    }
  }
}
