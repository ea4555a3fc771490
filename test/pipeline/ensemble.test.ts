/**
 * The ensemble embedder: the combination rule (cosine = Σ w² cosᵢ / Σ w²), the built-in ensemble on real
 * photos (one 704-d unit vector per face, equal to combining its members' own vectors), its fingerprint,
 * the refusal of members with another alignment template, and the eval path that builds an ensemble's
 * results from its members' cached ones.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensembleFromMembers } from '../../src/app/embed-images.js';
import { EmbeddingCache } from '../../src/eval/index.js';
import { BUILTIN_EMBEDDERS } from '../../src/models/registry.js';
import { combineEnsemble, EnsembleEmbedder, type Embedder } from '../../src/pipeline/ensemble.js';
import { FacePipeline } from '../../src/pipeline/pipeline.js';
import { dot, l2normalize } from '../../src/pipeline/vector.js';
import { dataset, hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';

const unit = (n: number, seed: number) => l2normalize(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed * 7.1)));

describe('combineEnsemble', () => {
  it('cosine of two ensemble vectors is the w²-weighted mean of the members’ cosines', () => {
    const [a1, a2, b1, b2] = [unit(5, 1), unit(7, 2), unit(5, 3), unit(7, 4)];
    const w = [0.4, 0.6];
    const c = dot(combineEnsemble([a1, a2], w), combineEnsemble([b1, b2], w));
    const expected = (w[0]! ** 2 * dot(a1, b1) + w[1]! ** 2 * dot(a2, b2)) / (w[0]! ** 2 + w[1]! ** 2);
    expect(c).toBeCloseTo(expected, 6);
    expect(dot(combineEnsemble([a1, a2], w), combineEnsemble([a1, a2], w))).toBeCloseTo(1, 6);
  });

  it('a zero weight drops a member; weights must match the parts', () => {
    const [a1, a2, b2] = [unit(5, 1), unit(7, 2), unit(7, 4)];
    expect(dot(combineEnsemble([a1, a2], [1, 0]), combineEnsemble([a1, b2], [1, 0]))).toBeCloseTo(1, 6);
    expect(() => combineEnsemble([a1, a2], [1])).toThrow(/2 vectors for 1 weights/);
  });
});

describe('ensemble from cached member results', () => {
  it('combines when every member has the photo, passes a member failure on, and waits when one is missing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-ensemble-cache-'));
    const [m1, m2] = [EmbeddingCache.open(dir, 'm1', 5), EmbeddingCache.open(dir, 'm2', 7)];
    const [a, b, c] = ['a', 'b', 'c'].map((ch) => ch.repeat(64));
    m1.put(a!, { ok: true, embedding: unit(5, 1) });
    m2.put(a!, { ok: true, embedding: unit(7, 2) });
    m1.put(b!, { ok: true, embedding: unit(5, 1) });
    m2.put(b!, { ok: false, reason: 'no face found' });
    m1.put(c!, { ok: true, embedding: unit(5, 1) });
    const compose = ensembleFromMembers([m1, m2], [0.4, 0.6]);
    const r = compose(a!);
    expect(r?.ok && Array.from(r.embedding)).toEqual(Array.from(combineEnsemble([unit(5, 1), unit(7, 2)], [0.4, 0.6])));
    expect(compose(b!)).toEqual({ ok: false, reason: 'no face found' });
    expect(compose(c!)).toBeUndefined();
  });
});

describe.skipIf(!hasDatasets)('the built-in ensemble on real photos', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});
  const photo = dataset('face-recognition-examples/joe_biden/biden.jpg');

  it('one 704-d unit vector per face, equal to combining mobilefacenet’s and faceplugin’s own vectors', async () => {
    const ens = await FacePipeline.load({ embedder: 'ensemble' });
    const [face] = await ens.processFile(photo, 'largest').then((r) => r.faces);
    expect(face!.embedding.length).toBe(704);
    expect(dot(face!.embedding, face!.embedding)).toBeCloseTo(1, 5);
    const parts: Float32Array[] = [];
    for (const id of ['mobilefacenet', 'faceplugin']) parts.push((await (await FacePipeline.load({ embedder: id })).processFile(photo, 'largest')).faces[0]!.embedding);
    const want = combineEnsemble(parts, [0.4, 0.6]);
    for (let d = 0; d < 704; d++) expect(face!.embedding[d]).toBeCloseTo(want[d]!, 5);
    // Its own fingerprint (members' fingerprints and weights), not a member's.
    const info = ens.embedderInfo!;
    expect(info.members!.map((m) => m.spec.id)).toEqual(['mobilefacenet', 'faceplugin']);
    expect(info.members!.map((m) => m.fingerprint)).not.toContain(info.fingerprint);
  });

  it('ensemble-noflip: its members run without the mirrored face (their own fingerprints), and it equals combining their no-flip vectors', async () => {
    const ens = await FacePipeline.load({ embedder: 'ensemble-noflip' });
    const info = ens.embedderInfo!;
    expect(info.members!.map((m) => m.spec.flip)).toEqual([false, false]);
    const withFlip = (await FacePipeline.load({ embedder: 'ensemble' })).embedderInfo!;
    // Same member files, another recipe: the fingerprints differ, so neither store nor cache mixes them.
    expect(info.members!.map((m) => m.sha256)).toEqual(withFlip.members!.map((m) => m.sha256));
    for (const [i, m] of info.members!.entries()) expect(m.fingerprint).not.toBe(withFlip.members![i]!.fingerprint);
    const [face] = (await ens.processFile(photo, 'largest')).faces;
    const parts: Float32Array[] = [];
    for (const id of ['mobilefacenet', 'faceplugin'])
      parts.push((await (await FacePipeline.load({ embedder: id, embedderOverrides: { flip: false } })).processFile(photo, 'largest')).faces[0]!.embedding);
    const want = combineEnsemble(parts, [0.55, 0.45]);
    for (let d = 0; d < 704; d++) expect(face!.embedding[d]).toBeCloseTo(want[d]!, 5);
    // Not what the members give with their mirrored face.
    const flipped = (await (await FacePipeline.load({ embedder: 'mobilefacenet' })).processFile(photo, 'largest')).faces[0]!.embedding;
    expect(Math.max(...parts[0]!.map((v, d) => Math.abs(v - flipped[d]!)))).toBeGreaterThan(1e-3);
  });

  it('refuses a member with another alignment template (the dlib chip)', async () => {
    const dlib = await FacePipeline.load({ embedder: 'dlib-resnet' });
    const mfn = await FacePipeline.load({ embedder: 'mobilefacenet' });
    const spec = { ...BUILTIN_EMBEDDERS.find((s) => s.id === 'ensemble')!, members: [{ id: 'mobilefacenet', weight: 1 }, { id: 'dlib-resnet', weight: 1 }], dim: 320 };
    expect(() => new EnsembleEmbedder(spec, [mfn.embedder, dlib.embedder] as Embedder[])).toThrow(/member dlib-resnet uses another alignment template/);
  });
});
