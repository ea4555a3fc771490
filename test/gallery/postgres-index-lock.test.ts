/**
 * The HNSW build and the pgvector extension's creation race between processes on a real server: two
 * logins building the missing index, or a rebuild and a login, both ran CREATE INDEX and the second
 * failed after its long build; two first writes to two schemas both created the extension. PGlite runs
 * one session, so the race itself cannot happen here: these tests check the statements the gallery sends
 * (white box): each build holds the gallery's advisory lock and looks again for the index once it has it;
 * the extension is created under a database-wide advisory lock, only when missing.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import { HNSW_INDEX } from '../../src/gallery/postgres/schema.js';
import { uniqueSchema, usePgServerAndClient } from '../helpers/pg-server.js';
import { DIM, MODEL, newFace, unitVectors } from './contract.js';

const server = usePgServerAndClient();
const side = () => server.side();

/** Every statement the gallery's connection sends, in order; `before` runs (awaited) ahead of each. */
function record(g: PostgresGallery, before?: (text: string) => Promise<void>): string[] {
  const c = (g as unknown as { c: pg.Client }).c;
  const query = c.query.bind(c) as (...args: unknown[]) => Promise<unknown>;
  const sent: string[] = [];
  (c as unknown as { query: unknown }).query = async (q: string | { text: string }, ...rest: unknown[]) => {
    const text = typeof q === 'string' ? q : q.text;
    await before?.(text);
    sent.push(text.replace(/\s+/g, ' '));
    return query(q, ...rest);
  };
  return sent;
}

const at = (sent: string[], pattern: RegExp, from = 0) => sent.findIndex((t, i) => i >= from && pattern.test(t));
const LOCK = /pg_advisory_xact_lock/;

async function gallery(schema = uniqueSchema()): Promise<PostgresGallery> {
  const g = await PostgresGallery.open(server.url(schema));
  await g.mutate((d) => d.addFaces(MODEL, unitVectors(30, DIM, 4).map((v, i) => newFace(`p${i}`, v))));
  return g;
}

describe('postgres gallery: index builds and the extension under advisory locks', () => {
  it('a login that finds no HNSW index builds it under the lock, and not at all when another process built it meanwhile', async () => {
    const schema = uniqueSchema();
    const g = await gallery(schema);
    try {
      let reads = 0;
      const sent = record(g, async (text) => {
        // The other process's build lands after this login looked (a read) and before its build transaction.
        if (text.startsWith('BEGIN ISOLATION LEVEL READ COMMITTED') && reads++ === 0)
          await side().query(`CREATE INDEX ${HNSW_INDEX} ON "${schema}".identities USING hnsw (mean vector_ip_ops)`);
      });
      const hit = await g.search(unitVectors(30, DIM, 4)[7]!, 1, 'hnsw');
      expect(hit.hits[0]![0]!.id).toBe('p7');
      const lock = at(sent, LOCK);
      expect(lock).toBeGreaterThan(0);
      expect(at(sent, /to_regclass/, lock)).toBeGreaterThan(lock);
      expect(sent.filter((t) => /CREATE INDEX/.test(t))).toEqual([]);
    } finally {
      await g.close();
    }
  });

  it('index rebuild drops and builds in one transaction holding the lock', async () => {
    const g = await gallery();
    try {
      const sent = record(g);
      expect((await g.rebuildIndex('hnsw')).kind).toBe('hnsw');
      const begin = at(sent, /^BEGIN ISOLATION LEVEL READ COMMITTED/);
      const lock = at(sent, LOCK, begin);
      const drop = at(sent, /^DROP INDEX/);
      const create = at(sent, /^CREATE INDEX/);
      const commit = at(sent, /^COMMIT$/, begin);
      expect(begin).toBeGreaterThanOrEqual(0);
      expect([lock > begin, drop > lock, create > drop, commit > create]).toEqual([true, true, true, true]);
    } finally {
      await g.close();
    }
  });

  it("a gallery's first write takes the extension's lock and creates pgvector only when it is missing", async () => {
    const g = await PostgresGallery.open(server.url(uniqueSchema()));
    try {
      const sent = record(g);
      await g.mutate((d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
      const locks = sent.filter((t) => LOCK.test(t));
      expect(locks).toHaveLength(2); // the gallery's, then the extension's
      expect(at(sent, /pg_extension WHERE extname = 'vector'/)).toBeGreaterThan(sent.indexOf(locks[1]!, at(sent, LOCK) + 1));
      expect(sent.filter((t) => /CREATE EXTENSION/.test(t))).toEqual([]); // this server has it already
    } finally {
      await g.close();
    }
  });
});
