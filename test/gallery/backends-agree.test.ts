/**
 * The files and PostgreSQL backends score a login candidate with the same dot() over the same float32
 * identity means, so their scores agree to the bit and a score at the threshold gets one decision on both.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGallery } from '../../src/gallery/open.js';
import { usePgServer } from '../helpers/pg-server.js';
import { MODEL, newFace, unitVectors } from './contract.js';

describe('files and PostgreSQL agree', () => {
  const pg = usePgServer();

  it('the same faces give the same candidates and scores to the bit, flat and HNSW', async () => {
    const files = await openGallery(path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-agree-')), 'store'));
    const db = await openGallery(pg.url('agree'));
    try {
      const v = unitVectors(30, MODEL.dimension, 5);
      for (const g of [files, db]) await g.mutate(async (d) => void (await d.addFaces(MODEL, v.map((e, i) => newFace(`p${i % 10}`, e)))));
      for (const q of unitVectors(20, MODEL.dimension, 6))
        for (const kind of ['flat', 'hnsw'] as const) {
          const [a, b] = [(await files.search(q, 3, kind)).hits[0]!, (await db.search(q, 3, kind)).hits[0]!];
          expect(b.map((c) => [c.id, c.score]), kind).toEqual(a.map((c) => [c.id, c.score]));
        }
    } finally {
      await files.close();
      await db.close();
    }
  }, 120_000);
});
