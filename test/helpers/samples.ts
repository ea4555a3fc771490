/**
 * Real photos that need no ../shared: the six group photos `@vladmandic/face-api` ships in demo/
 * (3–5 faces each), present wherever `npm ci` ran. Tests crop single faces out of them with sharp.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './shared.js';

export const samplesDir = path.join(repoRoot, 'node_modules/@vladmandic/face-api/demo');
export const sample = (n: number): string => path.join(samplesDir, `sample${n}.jpg`);
export const hasSamples = existsSync(sample(1));
export const SKIP_NO_SAMPLES = `${samplesDir} not found (run npm ci): tests that need its sample photos are skipped`;

/** Where single faces sit in the samples (box from `facectl detect`, grown to head and shoulders). */
export const FACES = {
  a: { sample: 1, left: 330, top: 280, width: 380, height: 420 },
  b: { sample: 3, left: 480, top: 230, width: 420, height: 470 },
  c: { sample: 6, left: 150, top: 400, width: 420, height: 480 },
} as const;

let cropDir: string | undefined;

/** A JPEG of one face cut from a sample photo (written once per process under a temp dir). */
export async function faceCrop(which: keyof typeof FACES): Promise<string> {
  cropDir ??= mkdtempSync(path.join(os.tmpdir(), 'facectl-crops-'));
  const file = path.join(cropDir, `${which}.jpg`);
  if (!existsSync(file)) {
    const { sample: n, ...region } = FACES[which];
    await sharp(sample(n)).extract(region).jpeg({ quality: 92 }).toFile(file);
  }
  return file;
}
