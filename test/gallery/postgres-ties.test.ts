/**
 * Exact ties under HNSW: pgvector's index returns equal distances in no set order, and facectl fetched only
 * k + 4 candidates, so among many identical identity vectors the one enrolled first (the tie rule of the
 * exact scan and of a store directory) could be left out. When the last candidate ties the k-th, an exact
 * scan ordered by first_seq decides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import { startPgServer, uniqueSchema, type PgServer } from '../helpers/pg-server.js';
import { DIM, MODEL, newFace, unitVectors } from './contract.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPgServer();
}, 120_000);
afterAll(async () => server?.stop());

describe('postgres gallery: exact ties under HNSW', () => {
  it('of 60 identical identity vectors, HNSW answers as the exact scan does: the first enrolled, then in enrollment order', async () => {
    const g = await PostgresGallery.open(server.url(uniqueSchema()));
    try {
      const [same, ...others] = unitVectors(21, DIM, 11);
      const ids = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      // Enrolled in batches, the others in between, so the table's order is not the enrollment order alone.
      await g.mutate((d) => d.addFaces(MODEL, others.map((v, i) => newFace(`o${i}`, v!))));
      for (let start = 0; start < ids.length; start += 10) await g.mutate((d) => d.addFaces(MODEL, ids.slice(start, start + 10).map((id) => newFace(id, same!))));
      // Renaming rewrites an identity's row: the first enrolled are now the table's (and the index build's) last.
      for (const id of ids.slice(0, 5).reverse()) await g.mutate((d) => d.renameIdentity(id, `first ${id}`));
      await g.rebuildIndex('hnsw');
      for (const k of [1, 3]) {
        const exact = await g.search(same!, k, 'flat');
        const approx = await g.search(same!, k, 'hnsw');
        expect(approx.index.kind).toBe('hnsw');
        expect(exact.hits[0]!.map((c) => c.id)).toEqual(ids.slice(0, k));
        expect(approx.hits[0]).toEqual(exact.hits[0]);
      }
    } finally {
      await g.close();
    }
  });
});
