/**
 * What every Gallery must do, run against each backend (files.test.ts, postgres.test.ts): the app layer
 * relies on exactly these behaviours, so both backends are held to one suite.
 */
import { expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import type { Gallery, ModelInfo, NewFace } from '../../src/gallery/types.js';
import { dot } from '../../src/pipeline/vector.js';
import { identityMean } from '../../src/store/identity-mean.js';
import { expectFacectlError } from '../store/helpers.js';

export const DIM = 32;
export const MODEL: ModelInfo = { id: 'toy-model', hash: 'fp:toy', dimension: DIM };

/** Seeded unit vectors (mulberry32 + Box-Muller), so every run and backend sees the same data. */
export function unitVectors(n: number, dim = DIM, seed = 1): Float32Array[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()));
    const norm = Math.sqrt(dot(v, v));
    return v.map((x) => x / norm);
  });
}

export function newFace(id: string, embedding: Float32Array, extra: Partial<NewFace> = {}): NewFace {
  return {
    id,
    name: `Name of ${id}`,
    sourcePath: `/photos/${id}.jpg`,
    imageSha256: 'ab'.repeat(32),
    box: { x: 10, y: 20, width: 100, height: 110 },
    quality: { score: 0.95, eyeDistancePx: 40, sizePx: 100, rollDeg: 1, yawDeg: -2, sharpness: 0.5 },
    embedding,
    ...extra,
  };
}

/** `fresh` gives an empty gallery of the backend under test. */
export function galleryContract(fresh: () => Promise<Gallery>): void {
  it('starts empty, then holds what one commit added: identities, rows, faces, info', async () => {
    const g = await fresh();
    expect(await g.info()).toMatchObject({ faces: 0, identities: 0, model: null, threshold: null });
    const v = unitVectors(5, DIM, 2);
    const { result, committed } = await g.mutate(async (d) => d.addFaces(MODEL, [newFace('alice', v[0]!), newFace('alice', v[1]!), newFace('bob', v[2]!, { name: 'Bob B' })]));
    expect(committed).toBe(true);
    expect(result.map((r) => r.id)).toEqual(['alice', 'alice', 'bob']);
    expect(await g.info()).toMatchObject({ faces: 3, identities: 2, model: MODEL });
    expect((await g.identities()).map((i) => [i.id, i.name, i.faceCount])).toEqual([['alice', 'Name of alice', 2], ['bob', 'Bob B', 1]]);
    expect((await g.rows()).map((r) => r.id)).toEqual(['alice', 'alice', 'bob']);
    const faces = await g.facesOf('alice');
    expect(faces.rows.map((r) => r.sourcePath)).toEqual(['/photos/alice.jpg', '/photos/alice.jpg']);
    expect(faces.rows[0]!.quality).toEqual(newFace('x', v[0]!).quality);
    expect(Array.from(faces.embeddings[1]!)).toEqual(Array.from(v[1]!));
    expect((await g.facesOf('nobody')).rows).toEqual([]);
  });

  it("a draft's rows() follow its own adds and removes (store copy reads them before adding)", async () => {
    const g = await fresh();
    const v = unitVectors(2, DIM, 4);
    await g.mutate(async (d) => {
      expect(await d.rows()).toHaveLength(0);
      await d.addFaces(MODEL, [newFace('a', v[0]!), newFace('b', v[1]!)]);
      expect((await d.rows()).map((r) => r.id)).toEqual(['a', 'b']);
      await d.removeIdentity('a');
      expect((await d.rows()).map((r) => r.id)).toEqual(['b']);
    });
  });

  it('search returns exact scores against each identity mean, best first', async () => {
    const g = await fresh();
    const v = unitVectors(40, DIM, 3);
    await g.mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i % 10}`, e))));
    const query = v[7]!;
    for (const index of ['flat', 'hnsw'] as const) {
      const { hits } = await g.search(query, 3, index);
      const expected = Array.from({ length: 10 }, (_, p) => ({ id: `p${p}`, score: dot(query, identityMean(v.filter((_, i) => i % 10 === p), DIM)) })).sort((a, b) => b.score - a.score);
      expect(hits[0]!.map((c) => c.id)).toEqual(expected.slice(0, 3).map((e) => e.id));
      hits[0]!.forEach((c, k) => expect(c.score).toBeCloseTo(expected[k]!.score, 5));
      expect(hits[0]![0]!.name).toBe(`Name of ${expected[0]!.id}`);
    }
  });

  it('exact score ties go to the identity enrolled first, whatever the index kind and backend (as flat and the duplicate check do)', async () => {
    // Four people enrolled from the same photo (the later ones with --force), among others: one score, four ids.
    const v = unitVectors(30, DIM, 31);
    const same = v[0]!;
    const ids = ['zed', 'amy', 'mia', 'bob'];
    const g = await fresh();
    await g.mutate(async (d) => d.addFaces(MODEL, [
      ...v.slice(1, 15).map((e, i) => newFace(`p${i}`, e)),
      ...ids.map((id) => newFace(id, same)),
      ...v.slice(15).map((e, i) => newFace(`q${i}`, e)),
    ]));
    const firstEnrolled = (await g.identities()).map((it) => it.id).filter((id) => ids.includes(id));
    expect(firstEnrolled).toEqual(ids);
    for (const kind of ['flat', 'hnsw', 'auto'] as const) {
      for (const k of [1, 2, 4]) {
        const top = (await g.search(same, k, kind)).hits[0]!;
        expect(top.map((c) => c.id), `${kind} k=${k}`).toEqual(ids.slice(0, k));
        expect(new Set(top.map((c) => c.score)).size, `${kind} k=${k}`).toBe(1);
      }
    }
    // The duplicate check (enroll) names the same identity.
    await g.mutate(async (d) => expect((await d.nearestIdentity(same))?.id).toBe('zed'));
  });

  it("a writer's duplicate check scores exactly what a login would (one float64 identity mean)", async () => {
    const g = await fresh();
    // 60 faces of one person: a float32 running sum would differ from float64 in the last bits.
    const v = unitVectors(61, DIM, 4);
    await g.mutate(async (d) => d.addFaces(MODEL, v.slice(0, 30).map((e) => newFace('many', e))));
    const probe = v[60]!;
    const seen = await g.mutate(async (d) => {
      await d.addFaces(MODEL, v.slice(30, 60).map((e) => newFace('many', e))); // the draft changed: means recomputed
      await d.addFaces(MODEL, [newFace('other', v[59]!)]);
      return d.nearestIdentity(probe, 'other');
    });
    const { hits } = await g.search(probe, 1, 'flat');
    expect(seen.result).toEqual({ id: 'many', score: dot(probe, identityMean(v.slice(0, 60), DIM)) });
    expect(hits[0]![0]!.score).toBeCloseTo(seen.result!.score, 6);
  });

  it('remove, rename by a new name, thresholds, and refusals leave the gallery as it was', async () => {
    const g = await fresh();
    const v = unitVectors(4, DIM, 5);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', v[0]!), newFace('b', v[1]!)]));
    await expectFacectlError(() => g.mutate((d) => d.removeIdentity('zed')), ExitCode.UNKNOWN_ID, /no identity "zed"/);
    await expectFacectlError(() => g.mutate(async (d) => d.addFaces({ ...MODEL, hash: 'fp:other' }, [newFace('c', v[2]!)])), ExitCode.MODEL_MISMATCH);
    await expect(
      g.mutate(async (d) => {
        await d.addFaces(MODEL, [newFace('c', v[2]!)]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await g.info()).faces).toBe(2);
    const { generation } = await g.info();
    expect((await g.mutate((d) => d.removeIdentity('a'))).result).toBe(1);
    await expectFacectlError(() => g.mutate(async (d) => d.addFaces(MODEL, [newFace('d', v[3]!)]), { expectGeneration: generation }), ExitCode.STORE_ERROR, /changed/);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('b', v[2]!, { name: 'New B' })]));
    expect((await g.identities()).map((i) => [i.id, i.name, i.faceCount])).toEqual([['b', 'New B', 2]]);
    // A rename without new faces: every face of the id, and its identity, take the name.
    await g.mutate((d) => d.renameIdentity('b', 'Bee'));
    expect((await g.identities()).map((i) => [i.id, i.name, i.faceCount])).toEqual([['b', 'Bee', 2]]);
    expect((await g.rows()).map((r) => r.name)).toEqual(['Bee', 'Bee']);
    await expectFacectlError(() => g.mutate((d) => d.renameIdentity('zed', 'Zed')), ExitCode.UNKNOWN_ID, /no identity "zed"/);
    const t = { value: 0.61, source: 'calibrated' as const, dataset: 'lfw', targetFpr: 0.01, basis: 'open-set' as const, date: '2026-12-03T00:00:00.000Z', model: MODEL.id };
    await g.mutate((d) => d.setThreshold(t));
    expect((await g.info()).threshold).toEqual(t);
    await expectFacectlError(() => g.mutate((d) => d.setThreshold({ ...t, model: 'another' })), ExitCode.MODEL_MISMATCH);
  });

  it('re-embedding edits: path fix, dropped faces, new embeddings from a new model; export round-trips', async () => {
    const g = await fresh();
    const v = unitVectors(6, DIM, 6);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', v[0]!), newFace('b', v[1]!), newFace('c', v[2]!)]));
    const next: ModelInfo = { id: 'toy-model-2', hash: 'fp:two', dimension: 16 };
    const small = unitVectors(2, 16, 7);
    await g.mutate(async (d) => {
      expect((await d.rows()).map((r) => r.id)).toEqual(['a', 'b', 'c']);
      await d.setSourcePath(0, '/elsewhere/a.jpg');
      await d.removeFaces(new Set([1]));
      await d.replaceAllEmbeddings(next, small);
    });
    const out = await g.exportAll();
    expect(out.model).toEqual(next);
    expect(out.rows.map((r) => [r.id, r.sourcePath, r.modelId])).toEqual([['a', '/elsewhere/a.jpg', 'toy-model-2'], ['c', '/photos/c.jpg', 'toy-model-2']]);
    expect(Array.from(out.embeddings)).toEqual([...small[0]!, ...small[1]!].map((x) => Math.fround(x)));
    expect((await g.search(small[1]!, 1, 'flat')).hits[0]![0]!.id).toBe('c');
    expect((await g.check()).ok).toBe(true);
  });
}
