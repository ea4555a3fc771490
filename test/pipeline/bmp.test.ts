/**
 * facectl's own BMP decoder (src/pipeline/bmp.ts) against Pillow's: every fixture in fixtures/bmp
 * (make-bmp.py: written by Pillow or packed by hand from the format's layout) must decode to the pixels
 * Pillow decodes from it (<name>.png). Damaged and unsupported files give BAD_IMAGE with the reason, and a
 * real photo saved as BMP is found and read exactly as its JPEG pixels.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { decodeImageBytes, decodeImageFile } from '../../src/pipeline/decode.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/bmp');
const fixture = (name: string) => readFileSync(path.join(fixtures, `${name}.bmp`));

/** Largest per-channel difference allowed: bit-replicated vs rounded scaling of 5- and 6-bit channels, alpha blending. */
const TOLERANCE: Record<string, number> = { rgb555: 1, bitfields565: 1, v5alpha32: 1 };
const FIXTURES = ['rgb24', 'gray8', 'palette8', 'mono1', 'rgbx32', 'indexed4', 'topdown8', 'rgb555', 'bitfields565', 'bitfields32', 'core24', 'v5alpha32', 'rle8', 'rle4'];

/** A 24-bit bottom-up BMP of raw RGB pixels (the most common kind a camera tool writes). */
function bmp24(rgb: Uint8Array, width: number, height: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = ((height - 1 - y) * width + x) * 3, d = 54 + y * stride + x * 3;
      [out[d], out[d + 1], out[d + 2]] = [rgb[s + 2]!, rgb[s + 1]!, rgb[s]!];
    }
  return out;
}

async function expectBadImage(bytes: Uint8Array, message: RegExp) {
  const err = await decodeImageBytes(bytes, 'x.bmp').then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FacectlError);
  expect((err as FacectlError).code).toBe(ExitCode.BAD_IMAGE);
  expect((err as FacectlError).message).toMatch(message);
}

describe('BMP decoding', () => {
  for (const name of FIXTURES) {
    it(`${name}.bmp decodes to Pillow's pixels${TOLERANCE[name] ? ` (within ${TOLERANCE[name]})` : ', exactly'}`, async () => {
      const img = await decodeImageBytes(fixture(name));
      const want = await sharp(path.join(fixtures, `${name}.png`)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([img.format, img.width, img.height]).toEqual(['bmp', want.info.width, want.info.height]);
      let worst = 0;
      for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(img.data[i]! - want.data[i]!));
      expect(worst).toBeLessThanOrEqual(TOLERANCE[name] ?? 0);
    });
  }

  it('the fixtures are not trivial: distinct colours, and the alpha one really blends on white', async () => {
    const colours = (data: Uint8Array) => new Set(Array.from({ length: data.length / 3 }, (_, i) => `${data[3 * i]},${data[3 * i + 1]},${data[3 * i + 2]}`)).size;
    for (const name of FIXTURES) expect(colours((await decodeImageBytes(fixture(name))).data), name).toBeGreaterThan(name === 'mono1' ? 1 : 10);
    const alpha = await decodeImageBytes(fixture('v5alpha32'));
    expect(Array.from(alpha.data.subarray(0, 3))).toEqual([255, 255, 255]); // alpha 0 → white
  });

  it('damaged and unsupported files: BAD_IMAGE with the reason', async () => {
    const rgb24 = fixture('rgb24');
    await expectBadImage(rgb24.subarray(0, 80), /truncated BMP file/);
    await expectBadImage(Buffer.from('BM\0\0\0\0\0\0\0\0'), /truncated BMP file/);
    const withHeader = (edit: (b: Buffer) => void) => {
      const b = Buffer.from(rgb24);
      edit(b);
      return b;
    };
    await expectBadImage(withHeader((b) => b.writeUInt32LE(5, 30)), /BMP files holding a JPEG or PNG are not supported/);
    await expectBadImage(withHeader((b) => b.writeUInt16LE(2, 28)), /unsupported BMP depth \(2 bits per pixel\)/);
    await expectBadImage(withHeader((b) => b.writeUInt32LE(20, 14)), /corrupt BMP header/);
    await expectBadImage(withHeader((b) => b.writeInt32LE(0, 18)), /corrupt BMP header/);
    await expectBadImage(withHeader((b) => (b.writeInt32LE(20000, 18), b.writeInt32LE(20000, 22))), /too large/);
  });
});

describe.skipIf(!hasDatasets)(`a real photo saved as BMP${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('reads exactly as its JPEG pixels, and detect finds the same face', async () => {
    const jpeg = dataset('face-recognition-examples', 'joe_biden/biden.jpg');
    const decoded = await decodeImageFile(jpeg);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-bmp-'));
    const file = path.join(tmp, 'biden.bmp');
    writeFileSync(file, bmp24(decoded.data, decoded.width, decoded.height));
    const fromBmp = await decodeImageFile(file);
    expect([fromBmp.format, fromBmp.width, fromBmp.height]).toEqual(['bmp', decoded.width, decoded.height]);
    expect(Buffer.from(fromBmp.data).equals(Buffer.from(decoded.data))).toBe(true);
    const faces = (f: string) => {
      const r = runCli(['detect', f, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).results[0].faces as { box: unknown }[];
    };
    const [a, b] = [faces(jpeg), faces(file)];
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
  });
});
