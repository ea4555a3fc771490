/**
 * A PostgreSQL gallery's `meta` table edited or damaged by hand: each key facectl reads is shape-checked
 * (exit 11, one line naming the key) instead of an internal error, a gallery that silently starts over
 * or is taken for empty, or a threshold that turns everyone away; and a commit writes every key back
 * even where its row was deleted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { PgDraft } from '../../src/gallery/postgres/draft.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery, ThresholdInfo } from '../../src/gallery/types.js';
import { expectFacectlError } from '../store/helpers.js';
import { uniqueSchema, usePgServerAndClient } from '../helpers/pg-server.js';
import { MODEL, newFace, unitVectors } from './contract.js';

const server = usePgServerAndClient();
const side = () => server.side();
const opened: Gallery[] = [];
const THRESHOLD: ThresholdInfo = { value: 0.5, source: 'manual', date: '2026-12-07T00:00:00.000Z', model: MODEL.id };

afterAll(async () => {
  for (const g of opened) await g.close();
});

/** A gallery of one face with a threshold, in a schema of its own. */
async function enrolled(): Promise<{ schema: string; g: PostgresGallery }> {
  const schema = uniqueSchema();
  const g = await PostgresGallery.open(server.url(schema));
  opened.push(g);
  await g.mutate(async (d) => {
    await d.addFaces(MODEL, [newFace('amy', unitVectors(1)[0]!)]);
    await d.setThreshold(THRESHOLD);
  });
  return { schema, g };
}

const setMeta = (schema: string, key: string, json: string) => side().query(`UPDATE "${schema}".meta SET value = $2::jsonb WHERE key = $1`, [key, json]);

describe('postgres gallery: a damaged meta table', () => {
  const cases: [string, string, RegExp][] = [
    ['model', '"broken"', /meta "model" is "broken", not a model record \(id and hash must be strings\)/],
    ['model', JSON.stringify({ id: MODEL.id, hash: MODEL.hash }), /meta "model" is .*, not a model record \(dimension must be an integer 1\.\.65536, got undefined\)/],
    ['model', JSON.stringify({ ...MODEL, dimension: String(MODEL.dimension) }), /meta "model" is .*, not a model record \(dimension must be an integer/],
    ['threshold', '{"value":"high"}', /meta "threshold" is \{"value":"high"\}, not a threshold record \(value must be a cosine similarity in \[-1, 1\], got high\)/],
    ['threshold', '5', /meta "threshold" is 5, not a threshold record/],
    ['generation', '"abc"', /meta "generation" is "abc", not a generation/],
    ['generation', '-1', /meta "generation" is -1, not a generation/],
    ['commit', '7', /meta "commit" is 7, not a commit token/],
  ];
  for (const [key, json, message] of cases) {
    it(`${key} = ${json}: exit 11 naming the key, on reading and on writing`, async () => {
      const { schema, g } = await enrolled();
      await setMeta(schema, key, json);
      const line = new RegExp(`^the gallery in schema "${schema}" is damaged: ${message.source}.*; restore the schema from a backup$`);
      await expectFacectlError(() => g.info(), ExitCode.STORE_ERROR, line);
      await expectFacectlError(() => g.search(unitVectors(1)[0]!, 1, 'flat'), ExitCode.STORE_ERROR, line);
      await expectFacectlError(() => g.mutate((d) => d.removeIdentity('amy')), ExitCode.STORE_ERROR, line);
      await expectFacectlError(() => g.check(), ExitCode.STORE_ERROR, line);
    });
  }

  for (const key of ['model', 'threshold', 'generation']) {
    it(`the ${key} row deleted: exit 11 naming it`, async () => {
      const { schema, g } = await enrolled();
      await side().query(`DELETE FROM "${schema}".meta WHERE key = $1`, [key]);
      await expectFacectlError(() => g.info(), ExitCode.STORE_ERROR, new RegExp(`damaged: meta "${key}" is missing; restore`));
      await expectFacectlError(() => g.mutate((d) => d.removeIdentity('amy')), ExitCode.STORE_ERROR, new RegExp(`meta "${key}" is missing`));
    });
  }

  for (const json of ['"abc"', '0', 'null']) {
    it(`schema_version = ${json}: exit 11 naming it on opening, not "no gallery"`, async () => {
      const { schema } = await enrolled();
      await setMeta(schema, 'schema_version', json);
      await expectFacectlError(() => PostgresGallery.open(server.url(schema), { mustExist: true }), ExitCode.STORE_ERROR, new RegExp(`damaged: meta "schema_version" is ${json.replace(/"/g, '"')}, not a schema version`));
    });
  }

  it('a commit writes generation, model and threshold even where their rows were deleted', async () => {
    const { schema } = await enrolled();
    const c = clientFor(parsePgUrl(server.url(schema)));
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query(`DELETE FROM "${schema}".meta WHERE key IN ('generation', 'model', 'threshold', 'commit')`);
      const draft = new PgDraft(c, schema, MODEL, THRESHOLD, new Date());
      draft.changed = true;
      expect(await draft.finish(6)).toBe(7);
      await c.query('COMMIT');
      const rows = (await c.query(`SELECT key, value FROM "${schema}".meta ORDER BY key`)).rows;
      expect(Object.fromEntries(rows.map((r) => [r.key, r.value]))).toMatchObject({ generation: 7, model: MODEL, threshold: THRESHOLD, schema_version: 1, commit: expect.any(String) });
    } finally {
      await c.end();
    }
    const again = await PostgresGallery.open(server.url(schema));
    opened.push(again);
    expect(await again.info()).toMatchObject({ generation: 7, model: MODEL, threshold: THRESHOLD, faces: 1 });
  });
});
