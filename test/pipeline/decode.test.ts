import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { decodeImageBytes, decodeImageFile, sniffFormat } from '../../src/pipeline/decode.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-decode-'));

async function expectCode(p: Promise<unknown>, code: number, message?: RegExp) {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(FacectlError);
  expect((err as FacectlError).code).toBe(code);
  if (message) expect((err as FacectlError).message).toMatch(message);
  expect((err as FacectlError).oneLine()).not.toContain('\n');
}

/** A small synthetic RGB photo: a horizontal red→blue gradient. */
async function gradient(width = 40, height = 30): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    raw[(y * width + x) * 3] = Math.round((255 * x) / (width - 1));
    raw[(y * width + x) * 3 + 2] = 255 - raw[(y * width + x) * 3]!;
  }
  return raw;
}

/** A decompression bomb: a tiny PNG whose header claims width×height pixels (IHDR patched, CRC redone). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

describe('decode: synthetic formats', () => {
  it('decodes PNG, 16-bit PNG, grayscale, RGBA, WebP, GIF and TIFF to 8-bit RGB', async () => {
    const raw = await gradient();
    const base = sharp(raw, { raw: { width: 40, height: 30, channels: 3 } });
    const variants: [string, Buffer][] = [
      ['png', await base.clone().png().toBuffer()],
      ['png16', await base.clone().toColourspace('rgb16').png().toBuffer()],
      ['gray', await base.clone().grayscale().png().toBuffer()],
      ['rgba', await base.clone().ensureAlpha().png().toBuffer()],
      ['webp', await base.clone().webp({ lossless: true }).toBuffer()],
      ['gif', await base.clone().gif().toBuffer()],
      ['tiff', await base.clone().tiff().toBuffer()],
    ];
    for (const [name, bytes] of variants) {
      const img = await decodeImageBytes(bytes, name);
      expect([img.width, img.height, img.data.length], name).toEqual([40, 30, 40 * 30 * 3]);
      if (name !== 'gray' && name !== 'gif') expect(img.data[(15 * 40 + 39) * 3], name).toBeGreaterThan(240); // red at the right edge
    }
  });

  it('applies EXIF orientation', async () => {
    const raw = await gradient(40, 30);
    // Store the pixels rotated and say so in EXIF (orientation 6 = rotate 90° clockwise to display).
    const stored = await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImageBytes(stored);
    expect([img.width, img.height]).toEqual([40, 30]);
    expect(img.data[(15 * 40 + 38) * 3]).toBeGreaterThan(200); // red side back on the right
  });

  it('reads binary and ASCII PGM/PPM (the ORL format)', async () => {
    const pgm = Buffer.concat([Buffer.from('P5\n# comment\n3 2\n255\n'), Buffer.from([0, 128, 255, 10, 20, 30])]);
    const img = await decodeImageBytes(pgm);
    expect([img.width, img.height, img.format]).toEqual([3, 2, 'pnm']);
    expect(Array.from(img.data.subarray(0, 9))).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
    const ppm = Buffer.from('P3 1 1 15\n15 0 7\n');
    expect(Array.from((await decodeImageBytes(ppm)).data)).toEqual([255, 0, 119]);
    const p16 = Buffer.concat([Buffer.from('P5 1 1 65535\n'), Buffer.from([0xff, 0xff])]);
    expect((await decodeImageBytes(p16)).data[0]).toBe(255);
  });

  it('rejects empty, truncated, non-image, BMP and oversized inputs with BAD_IMAGE', async () => {
    const jpeg = await sharp(await gradient(), { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toBuffer();
    await expectCode(decodeImageBytes(Buffer.alloc(0)), ExitCode.BAD_IMAGE, /empty/);
    await expectCode(decodeImageBytes(jpeg.subarray(0, jpeg.length / 2)), ExitCode.BAD_IMAGE, /truncated|corrupt/);
    await expectCode(decodeImageBytes(Buffer.from('{"not":"an image"}')), ExitCode.BAD_IMAGE, /not a supported image/);
    await expectCode(decodeImageBytes(Buffer.from('BM\0\0\0\0\0\0\0\0')), ExitCode.BAD_IMAGE, /BMP/);
    await expectCode(decodeImageBytes(Buffer.from('P5 3 2 255\n\0\0')), ExitCode.BAD_IMAGE, /truncated/);
    await expectCode(decodeImageBytes(jpeg, 'x', { maxBytes: 1e9, maxPixels: 100 }), ExitCode.BAD_IMAGE, /too large/);
    await expectCode(decodeImageBytes(await pngClaiming(20000, 20000)), ExitCode.BAD_IMAGE, /too large/);
  });

  it('an iPhone-style HEIC (HEVC brand) that cannot be decoded says so and how to convert, not "corrupt"', async () => {
    const ftyp = (major: string, compatible: string) => {
      const b = Buffer.alloc(64);
      b.writeUInt32BE(16 + compatible.length, 0);
      b.write(`ftyp${major}`, 4, 'latin1');
      b.write(compatible, 16, 'latin1');
      return b;
    };
    await expectCode(decodeImageBytes(ftyp('heic', 'mif1heic')), ExitCode.BAD_IMAGE, /HEIC photo \(HEVC-coded.*convert it to JPEG/);
    // Some Android phones name a generic major brand and list the HEVC one among the compatible brands.
    await expectCode(decodeImageBytes(ftyp('mif1', 'mif1miafheic')), ExitCode.BAD_IMAGE, /HEIC photo \(HEVC-coded/);
    // An undecodable AVIF is not HEVC: it keeps the plain message.
    await expectCode(decodeImageBytes(ftyp('avif', 'mif1avif')), ExitCode.BAD_IMAGE, /corrupt AVIF|corrupt HEIF/);
  });

  it('a pipe given as a file (a FIFO, `<(cmd)`) is read with the size limit counted as the bytes come', async () => {
    const fifo = (name: string, content: Buffer) => {
      const file = path.join(tmp, name);
      execFileSync('mkfifo', [file]);
      const src = path.join(tmp, `${name}.src`);
      writeFileSync(src, content);
      spawn('sh', ['-c', `cat "${src}" > "${file}" 2>/dev/null`], { stdio: 'ignore' });
      return file;
    };
    const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#336699' } }).png().toBuffer();
    const image = await decodeImageFile(fifo('photo.fifo', png));
    expect([image.width, image.height, image.format]).toEqual([8, 6, 'png']);
    // stat says 0 bytes, so only counting what is read can stop a pipe that never ends in time.
    await expectCode(decodeImageFile(fifo('big.fifo', Buffer.alloc(200_000)), { maxBytes: 100_000, maxPixels: 1e8 }), ExitCode.BAD_IMAGE, /file too large \(over 100000 bytes\)/);
  });

  it('reports missing files and directories as NOT_FOUND, with the file name', async () => {
    await expectCode(decodeImageFile(path.join(tmp, 'nope.jpg')), ExitCode.NOT_FOUND);
    await expectCode(decodeImageFile(tmp), ExitCode.NOT_FOUND, /directory/);
    writeFileSync(path.join(tmp, 'zero.jpg'), '');
    const err = await decodeImageFile(path.join(tmp, 'zero.jpg')).catch((e: FacectlError) => e);
    expect((err as FacectlError).oneLine()).toMatch(/zero\.jpg: empty file/);
  });
});

describe.skipIf(!hasDatasets)(`decode: real files whose extension lies${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('sniffs PNG-in-.jpg, WebP-in-.jpeg, RGBA PNG and ORL PGM', async () => {
    const cases: [string, string][] = [
      [dataset('edge-cases/rotated/rot_90.jpg'), 'png'],
      [dataset('edge-cases/same-person-rdj/d1.jpeg'), 'webp'],
      [dataset('edge-cases/format-quirks/32bit.png'), 'png'],
      [dataset('orl-faces/s1/1.pgm'), 'pnm'],
      [dataset('faceapi-bbt/amy/amy1.png'), 'png'],
    ];
    for (const [file, format] of cases) {
      expect(sniffFormat(readFileSync(file)), file).toBe(format);
      const img = await decodeImageFile(file);
      expect(img.data.length).toBe(img.width * img.height * 3);
    }
    const orl = await decodeImageFile(dataset('orl-faces/s1/1.pgm'));
    expect([orl.width, orl.height]).toEqual([92, 112]);
    const rgba = await decodeImageFile(dataset('edge-cases/format-quirks/32bit.png'));
    expect([rgba.width, rgba.height]).toEqual([626, 1200]);
  });
});
