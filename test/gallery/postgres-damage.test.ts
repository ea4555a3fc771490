/**
 * A PostgreSQL face row whose embedding cannot be used (NULL, another length than the model's, zero) is
 * never averaged into its identity's mean: `index rebuild` refuses it (exit 11 naming the face's seq and
 * id, nothing changed) unless --drop-damaged drops it or --reembed re-embeds it, as a store directory's
 * lost embeddings; an embedding whose norm is not 1 is re-normalised. Before, the repair averaged it in:
 * amy's mean became zeros and every login of hers UNKNOWN (exit 0), or a NULL crashed it (exit 1).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rebuild } from '../../src/app/rebuild.js';
import { ExitCode } from '../../src/errors.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery } from '../../src/gallery/types.js';
import { identityMean } from '../../src/store/identity-mean.js';
import { expectFacectlError } from '../store/helpers.js';
import { uniqueSchema, usePgServerAndClient } from '../helpers/pg-server.js';
import { DIM, MODEL, newFace, unitVectors } from './contract.js';

const server = usePgServerAndClient();
const side = () => server.side();
const opened: Gallery[] = [];
const v = unitVectors(3, DIM, 7);

afterAll(async () => {
  for (const g of opened) await g.close();
});

const damages = {
  NULL: (s: string, seq: number) => `ALTER TABLE "${s}".faces ALTER COLUMN embedding DROP NOT NULL; UPDATE "${s}".faces SET embedding = NULL WHERE seq = ${seq}`,
  'another length': (s: string, seq: number) => `ALTER TABLE "${s}".faces ALTER COLUMN embedding TYPE vector; UPDATE "${s}".faces SET embedding = '[1,0,0]' WHERE seq = ${seq}`,
  zero: (s: string, seq: number) => `UPDATE "${s}".faces SET embedding = '[${new Array(DIM).fill(0).join(',')}]' WHERE seq = ${seq}`,
};
const details: Record<keyof typeof damages, string> = {
  NULL: 'its embedding is NULL',
  'another length': `its embedding has 3 values, the model has ${DIM}`,
  zero: 'its embedding is zero or not finite',
};

/** amy (faces v0, v1) and bob (v2); amy's second face, seq returned, damaged as `how` says. */
async function damaged(how: keyof typeof damages): Promise<{ schema: string; g: PostgresGallery; seq: number }> {
  const schema = uniqueSchema();
  const g = await PostgresGallery.open(server.url(schema));
  opened.push(g);
  const { result } = await g.mutate((d) => d.addFaces(MODEL, [newFace('amy', v[0]!, { sourcePath: '/p/amy1.jpg' }), newFace('amy', v[1]!, { sourcePath: '/p/amy2.jpg' }), newFace('bob', v[2]!)]));
  const seq = result[1]!.embeddingIndex;
  await side().query(damages[how](schema, seq));
  return { schema, g, seq };
}

const meanOf = async (schema: string, id: string) =>
  Float32Array.from((await side().query(`SELECT mean::text AS m FROM "${schema}".identities WHERE id = $1`, [id])).rows[0].m.slice(1, -1).split(','), Number);

describe('postgres gallery: a face whose embedding cannot be used', () => {
  for (const how of Object.keys(damages) as (keyof typeof damages)[]) {
    it(`${how}: index rebuild refuses it naming seq and id (exit 11), changing nothing`, async () => {
      const { schema, g, seq } = await damaged(how);
      const before = await meanOf(schema, 'amy');
      const line = new RegExp(`^the gallery in schema "${schema}" is damaged: face seq ${seq} \\(amy\\): ${details[how]}: \`facectl index rebuild --reembed\` re-embeds it from its photo; \`--drop-damaged\` drops it$`);
      await expectFacectlError(() => rebuild(null, g, { reembed: false, dropMissing: false, photosRoot: '/', fixPaths: false, index: 'flat' }), ExitCode.STORE_ERROR, line);
      expect((await g.check()).problems).toContain(`face seq ${seq} (amy): ${details[how]}`);
      expect(await meanOf(schema, 'amy')).toEqual(before);
      // Neither is it averaged in by another change of amy's, nor does reading her faces crash.
      await expectFacectlError(() => g.mutate((d) => d.addFaces(MODEL, [newFace('amy', unitVectors(1, DIM, 99)[0]!)])), ExitCode.STORE_ERROR, line);
      await expectFacectlError(() => g.facesOf('amy'), ExitCode.STORE_ERROR, line);
      await expectFacectlError(() => g.exportAll(), ExitCode.STORE_ERROR, line);
      expect((await g.search(v[0]!, 1, 'flat')).hits[0]![0]!.id).toBe('amy');
    });

    it(`${how}: --drop-damaged drops that face alone; amy is found again by her other face`, async () => {
      const { schema, g, seq } = await damaged(how);
      const actions = await g.repair({ dropDamaged: true });
      expect(actions).toContain(`dropped face seq ${seq} (amy): ${details[how]}`);
      expect(await g.check()).toMatchObject({ ok: true, problems: [] });
      expect((await g.identities()).map((i) => [i.id, i.faceCount])).toEqual([['amy', 1], ['bob', 1]]);
      expect(await meanOf(schema, 'amy')).toEqual(identityMean([v[0]!], DIM));
      const hit = (await g.search(v[0]!, 1, 'flat')).hits[0]![0]!;
      expect(hit.id).toBe('amy');
      expect(hit.score).toBeCloseTo(1, 6);
      // The column is typed and NOT NULL again: HNSW builds on it.
      expect((await g.rebuildIndex('hnsw')).kind).toBe('hnsw');
    });

    it(`${how}: --reembed rewrites every face in the repair's commit`, async () => {
      const { schema, g, seq } = await damaged(how);
      let given: readonly string[] = [];
      const actions = await g.repair({
        reembed: async (rows) => {
          given = rows.map((r) => r.sourcePath);
          return (draft) => draft.replaceAllEmbeddings(MODEL, [v[0]!, v[1]!, v[2]!]);
        },
      });
      expect(given).toEqual(['/p/amy1.jpg', '/p/amy2.jpg', expect.any(String)]);
      expect(actions).toContain(`face seq ${seq} (amy): ${details[how]}; re-embedded from its photo`);
      expect(await g.check()).toMatchObject({ ok: true });
      expect(await meanOf(schema, 'amy')).toEqual(identityMean([v[0]!, v[1]!], DIM));
      expect((await g.rebuildIndex('hnsw')).kind).toBe('hnsw');
    });
  }

  it('a finite embedding whose norm is not 1 is re-normalised by the repair (as the files backend does), no flag needed', async () => {
    const schema = uniqueSchema();
    const g = await PostgresGallery.open(server.url(schema));
    opened.push(g);
    const { result } = await g.mutate((d) => d.addFaces(MODEL, [newFace('amy', v[0]!), newFace('amy', v[1]!)]));
    const seq = result[1]!.embeddingIndex;
    await side().query(`UPDATE "${schema}".faces SET embedding = '[${Array.from(v[1]!, (x) => 2 * x).join(',')}]' WHERE seq = ${seq}`);
    expect((await g.check()).problems).toEqual([expect.stringMatching(new RegExp(`^face seq ${seq} \\(amy\\): its embedding norm is (2|1\\.99999\\d+), not 1$`))]);
    // Until then it is not averaged in: a change of amy's refuses it.
    await expectFacectlError(() => g.mutate((d) => d.renameIdentity('amy', 'Amy')), ExitCode.STORE_ERROR, new RegExp(`face seq ${seq} \\(amy\\): its embedding norm is (2|1\\.99999\\d+), not 1`));
    expect(await g.repair()).toEqual(['re-normalised 1 embedding', 'recomputed every identity vector from the faces (found: 1 problem(s))']);
    expect(await g.check()).toMatchObject({ ok: true });
    const want = identityMean([v[0]!, v[1]!], DIM);
    (await meanOf(schema, 'amy')).forEach((x, d) => expect(x).toBeCloseTo(want[d]!, 6));
  });
});
