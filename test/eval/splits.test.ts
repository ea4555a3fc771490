import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import type { FolderDataset } from '../../src/eval/datasets.js';
import { makeIdentificationSplit } from '../../src/eval/splits.js';
import { expectFacectlError } from './eval-helpers.js';

function fakeDataset(sizes: number[]): FolderDataset {
  const identities = sizes.map((n, i) => ({ name: `id${i}`, images: Array.from({ length: n }, (_, k) => `id${i}/${k}.jpg`) }));
  return { root: '/fake', name: 'fake', identities, emptyIdentities: [], ignoredEntries: [], imageCount: sizes.reduce((a, b) => a + b, 0) };
}

describe('makeIdentificationSplit', () => {
  const ds = fakeDataset([4, 1, 3, 2, 5, 1, 2, 6, 3, 2, 4, 3, 2, 2, 2, 2, 3, 3, 3, 4]);

  it('closed set: first k images enrolled, the rest probes; small identities never enrolled', () => {
    const s = makeIdentificationSplit(ds, { openSetFraction: 0, gallerySize: 2 });
    expect(s.heldOutIdentities).toEqual([]);
    expect(s.gallery[0]).toEqual({ identity: 'id0', images: ['id0/0.jpg', 'id0/1.jpg'] });
    expect(s.matedProbes.filter((p) => p.identity === 'id0').map((p) => p.image)).toEqual(['id0/2.jpg', 'id0/3.jpg']);
    // Identities with <= 2 images cannot be enrolled with k = 2: their images are non-mated probes.
    expect(s.tooFewImages).toEqual(['id1', 'id3', 'id5', 'id6', 'id9', 'id12', 'id13', 'id14', 'id15']);
    expect(s.nonMatedProbes.every((p) => s.tooFewImages.includes(p.identity))).toBe(true);
    // Every image is used exactly once.
    const used = [...s.gallery.flatMap((g) => g.images), ...s.matedProbes.map((p) => p.image), ...s.nonMatedProbes.map((p) => p.image)];
    expect(new Set(used).size).toBe(ds.imageCount);
    expect(used).toHaveLength(ds.imageCount);
  });

  it('open set: holds out a seeded 10% of enrollable identities, deterministically', () => {
    const a = makeIdentificationSplit(ds, { seed: 3 });
    expect(a).toEqual(makeIdentificationSplit(ds, { seed: 3 }));
    const enrollable = ds.identities.filter((i) => i.images.length > 1).length; // 18
    expect(a.heldOutIdentities).toHaveLength(Math.round(0.1 * enrollable));
    const enrolled = new Set(a.gallery.map((g) => g.identity));
    for (const h of a.heldOutIdentities) expect(enrolled.has(h)).toBe(false);
    expect(a.nonMatedProbes.filter((p) => a.heldOutIdentities.includes(p.identity))).toHaveLength(
      a.heldOutIdentities.reduce((n, h) => n + ds.identities.find((i) => i.name === h)!.images.length, 0),
    );
    expect(a.matedProbes.every((p) => enrolled.has(p.identity))).toBe(true);
    const seeds = new Set([1, 2, 3, 4, 5, 6].map((seed) => makeIdentificationSplit(ds, { seed }).heldOutIdentities.join()));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('random gallery selection is seeded and keeps natural order', () => {
    const s = makeIdentificationSplit(ds, { gallerySelection: 'random', gallerySize: 2, seed: 8, openSetFraction: 0 });
    const g = s.gallery.find((e) => e.identity === 'id7')!;
    expect(g.images).toHaveLength(2);
    expect([...g.images].sort()).toEqual(g.images);
    expect(makeIdentificationSplit(ds, { gallerySelection: 'random', gallerySize: 2, seed: 8, openSetFraction: 0 })).toEqual(s);
  });

  it('always leaves at least two identities enrolled, and rejects bad options', () => {
    const s = makeIdentificationSplit(fakeDataset([2, 2, 2]), { openSetFraction: 0.9 });
    expect(s.gallery).toHaveLength(2);
    expectFacectlError(() => makeIdentificationSplit(fakeDataset([2, 1])), ExitCode.USAGE, /at least 2 identities with more than 1 image/);
    expectFacectlError(() => makeIdentificationSplit(ds, { gallerySize: 0 }), ExitCode.USAGE, /--gallery-size/);
    expectFacectlError(() => makeIdentificationSplit(ds, { openSetFraction: 1 }), ExitCode.USAGE, /open-set fraction/);
  });
});
