import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import type { FolderDataset } from '../../src/eval/datasets.js';
import { scanIdentityFolders } from '../../src/eval/datasets.js';
import { generatePairs } from '../../src/eval/pair-generation.js';
import type { PairProtocol } from '../../src/eval/pairs.js';
import { dataset, hasDatasets } from '../helpers/shared.js';
import { expectFacectlError, withShared } from './eval-helpers.js';

/** A synthetic dataset: identity i has sizes[i] images. */
function fakeDataset(sizes: number[]): FolderDataset {
  const identities = sizes.map((n, i) => ({
    name: `id${i}`,
    images: Array.from({ length: n }, (_, k) => `id${i}/${k}.jpg`),
  }));
  return { root: '/fake', name: 'fake', identities, emptyIdentities: [], ignoredEntries: [], imageCount: sizes.reduce((a, b) => a + b, 0) };
}

const identityOf = (img: string) => img.split('/')[0]!;

function checkInvariants(p: PairProtocol): void {
  const keys = new Set<string>();
  for (const pair of p.pairs) {
    expect(pair.a).not.toBe(pair.b);
    expect(identityOf(pair.a) === identityOf(pair.b)).toBe(pair.same);
    const key = [pair.a, pair.b].sort().join('|');
    expect(keys.has(key)).toBe(false);
    keys.add(key);
  }
}

describe('generatePairs', () => {
  const ds = fakeDataset(Array.from({ length: 60 }, (_, i) => 1 + (i % 7) * 3)); // sizes 1..19

  it('is deterministic for a seed and changes with the seed', () => {
    expect(generatePairs(ds, { seed: 1 })).toEqual(generatePairs(ds, { seed: 1 }));
    expect(generatePairs(ds, { seed: 1 }).pairs).not.toEqual(generatePairs(ds, { seed: 2 }).pairs);
  });

  it('balanced, capped, duplicate-free, identity-disjoint folds', () => {
    const p = generatePairs(ds, { seed: 9, genuinePerIdentity: 5 });
    checkInvariants(p);
    expect(p.foldCount).toBe(10);
    expect(p.generation?.identityDisjointFolds).toBe(true);
    const foldOfIdentity = new Map<string, number>();
    const genuinePerId = new Map<string, number>();
    for (let f = 0; f < 10; f++) {
      const fold = p.pairs.filter((x) => x.fold === f);
      const g = fold.filter((x) => x.same).length;
      expect(g).toBeGreaterThan(0);
      expect(fold.length - g).toBe(g); // as many impostors as genuine
      for (const pair of fold) {
        for (const id of [identityOf(pair.a), identityOf(pair.b)]) {
          expect(foldOfIdentity.get(id) ?? f).toBe(f);
          foldOfIdentity.set(id, f);
        }
        if (pair.same) genuinePerId.set(identityOf(pair.a), (genuinePerId.get(identityOf(pair.a)) ?? 0) + 1);
      }
    }
    // Each identity with n >= 2 images gives min(5, n(n-1)/2) genuine pairs.
    for (const id of ds.identities) {
      const n = id.images.length;
      expect(genuinePerId.get(id.name) ?? 0).toBe(Math.min(5, (n * (n - 1)) / 2));
    }
    // Folds are balanced by genuine count within one identity's worth.
    const counts = Array.from({ length: 10 }, (_, f) => p.pairs.filter((x) => x.fold === f && x.same).length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(5);
    // Genuine pairs come first in each fold.
    for (let f = 0; f < 10; f++) {
      const fold = p.pairs.filter((x) => x.fold === f);
      expect(fold.findIndex((x) => !x.same)).toBe(fold.filter((x) => x.same).length);
    }
  });

  it('tiny datasets: fewer identities than folds fall back to global impostors, and say so', () => {
    const p = generatePairs(fakeDataset([3, 2, 1]), { seed: 4 });
    checkInvariants(p);
    expect(p.pairs.filter((x) => x.same)).toHaveLength(4); // 3 + 1
    expect(p.generation?.identityDisjointFolds).toBe(false);
    expect(p.generation?.foldsWithGlobalImpostors.length).toBeGreaterThan(0);
    expect(p.pairs.filter((x) => !x.same)).toHaveLength(4);
  });

  it('stops at the number of distinct impostor pairs that exist', () => {
    // Two identities of 2 images: 1 + 1 genuine; only 4 distinct impostor pairs exist, 2 needed.
    const p = generatePairs(fakeDataset([2, 2]), { seed: 1, folds: 1 });
    checkInvariants(p);
    expect(p.pairs.filter((x) => !x.same)).toHaveLength(2);
  });

  it('a fold of 150,000 genuine pairs (one per identity of a very large set)', () => {
    const p = generatePairs(fakeDataset(new Array(150_000).fill(2)), { seed: 1, folds: 1, genuinePerIdentity: 1 });
    expect(p.pairs.filter((x) => x.same)).toHaveLength(150_000);
    expect(p.pairs).toHaveLength(300_000);
  });

  it('refuses datasets that cannot give both kinds of pair', () => {
    expectFacectlError(() => generatePairs(fakeDataset([5])), ExitCode.USAGE, /need at least 2 identities, found 1/);
    expectFacectlError(() => generatePairs(fakeDataset([1, 1, 1])), ExitCode.USAGE, /no identity has two or more images/);
    expectFacectlError(() => generatePairs(ds, { genuinePerIdentity: 0 }), ExitCode.USAGE, /positive integer/);
  });
});

describe.skipIf(!hasDatasets)(withShared('generatePairs on the shared data'), () => {
  it('ORL: 40 x min(10, 45) genuine pairs, identity-disjoint 10 folds', () => {
    const p = generatePairs(scanIdentityFolders(dataset('orl-faces')));
    checkInvariants(p);
    expect(p.pairs.filter((x) => x.same)).toHaveLength(400);
    expect(p.pairs.filter((x) => !x.same)).toHaveLength(400);
    expect(p.generation?.identityDisjointFolds).toBe(true);
  });
});
