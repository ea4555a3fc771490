/**
 * The whole pipeline on real photos: same person scores higher than different people, and every
 * edge-case photo gets either faces or a clean, documented error.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { FacePipeline } from '../../src/pipeline/pipeline.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe.skipIf(!hasDatasets)(`pipeline on real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  let pipeline: FacePipeline;
  beforeAll(async () => {
    pipeline = await FacePipeline.load();
  });

  it('face-recognition-examples: every same-person pair scores above every different-person pair', async () => {
    const root = dataset('face-recognition-examples');
    const items: { id: string; file: string; v: Float32Array }[] = [];
    for (const id of readdirSync(root).filter((d) => !d.includes('.'))) {
      for (const f of readdirSync(path.join(root, id))) {
        const { faces } = await pipeline.processFile(path.join(root, id, f), 'largest');
        expect(faces).toHaveLength(1);
        const v = faces[0]!.embedding;
        expect(Math.hypot(...v)).toBeCloseTo(1, 5);
        items.push({ id, file: f, v });
      }
    }
    expect(items).toHaveLength(16);
    let minSame = Infinity, maxDifferent = -Infinity;
    for (let i = 0; i < items.length; i++)
      for (let j = i + 1; j < items.length; j++) {
        const s = dot(items[i]!.v, items[j]!.v);
        if (items[i]!.id === items[j]!.id) minSame = Math.min(minSame, s);
        else maxDifferent = Math.max(maxDifferent, s);
      }
    expect(minSame).toBeGreaterThan(maxDifferent);
  });

  it('landmarks lie inside their face box in a sensible order (eyes above nose above mouth)', async () => {
    const { faces } = await pipeline.processFile(dataset('face-recognition-examples/barack_obama/obama.jpg'), 'all');
    expect(faces).toHaveLength(1);
    const [le, re, nose, ml, mr] = faces[0]!.landmarks;
    const b = faces[0]!.box;
    for (const p of faces[0]!.landmarks) {
      expect(p.x).toBeGreaterThan(b.x);
      expect(p.x).toBeLessThan(b.x + b.width);
    }
    expect(le.x).toBeLessThan(re.x);
    expect(ml.x).toBeLessThan(mr.x);
    expect(nose.y).toBeGreaterThan(le.y);
    expect(ml.y).toBeGreaterThan(nose.y);
    expect(Math.abs(faces[0]!.quality.rollDeg)).toBeLessThan(10);
  });

  it('edge cases: faces or a clean documented error for every photo, no crash', async () => {
    const root = dataset('edge-cases');
    const outcomes: string[] = [];
    for (const group of readdirSync(root).filter((d) => !d.includes('.'))) {
      for (const f of readdirSync(path.join(root, group))) {
        const file = path.join(root, group, f);
        const image = await pipeline.decode(file);
        const faces = await pipeline.detect(image, { mode: group === 'multi-face' ? 'thorough' : 'fast' });
        const name = `${group}/${f}`;
        if (group === 'no-face') expect(faces, name).toHaveLength(0);
        else if (group === 'multi-face') expect(faces.length, name).toBeGreaterThanOrEqual(2);
        else if (name === 'spoof-cartoon/kun_cartoon_crop_r90.jpg') expect(faces, name).toHaveLength(0); // a cartoon turned 90°: documented miss
        else expect(faces, name).toHaveLength(1);
        outcomes.push(name);
      }
    }
    expect(outcomes.length).toBeGreaterThanOrEqual(80);
  });

  it('no-face photos fail with NO_FACE and the file name; several faces with MULTIPLE_FACES', async () => {
    const cat = dataset('edge-cases/no-face/cat.jpg');
    const err = await pipeline.processFile(cat, 'largest').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NO_FACE);
    expect((err as FacectlError).oneLine()).toBe(`${cat}: no face found`);
    const two = await pipeline.processFile(dataset('edge-cases/multi-face/two_people.jpg'), 'single').catch((e: unknown) => e);
    expect((two as FacectlError).code).toBe(ExitCode.MULTIPLE_FACES);
  });

  it('grayscale crops (faceapi-bbt), PGM (ORL) and an aligned 112×112 crop all give a face', async () => {
    for (const f of ['faceapi-bbt/amy/amy1.png', 'orl-faces/s1/1.pgm', 'edge-cases/single-face/Tom_Hanks_54745.png']) {
      const { faces } = await pipeline.processFile(dataset(f), 'largest');
      expect(faces, f).toHaveLength(1);
    }
  });
});
