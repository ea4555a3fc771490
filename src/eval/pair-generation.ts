/**
 * Balanced verification pairs for datasets that ship no pairs file.
 *
 * The recipe (deterministic for a given seed and folder listing):
 *  1. Genuine pairs: for every identity with n >= 2 images, up to `genuinePerIdentity`
 *     (default 10) distinct image pairs, drawn uniformly without replacement from its
 *     n(n-1)/2 possible pairs. The cap keeps a few very large identities from dominating.
 *  2. Folds: identities are shuffled, then those with genuine pairs are dealt (largest first)
 *     to the fold that has the fewest genuine pairs so far; single-image identities are dealt
 *     to the fold with the fewest identities. Every identity lives in exactly one fold, so folds
 *     are identity-disjoint: a threshold tuned on nine folds never saw the tenth fold's people.
 *  3. Impostor pairs: per fold, as many as that fold's genuine pairs. Each is drawn by picking
 *     two different identities uniformly from the fold's identities, then one image of each
 *     uniformly; duplicates are redrawn. A fold with fewer than two identities (tiny datasets)
 *     draws its impostors from all identities instead, and the protocol says so.
 *  4. Order: fold by fold, genuine pairs first, like LFW's pairs.txt.
 */
import { ExitCode, FacectlError } from '../errors.js';
import type { FolderDataset, IdentityImages } from './datasets.js';
import type { ImagePair, PairProtocol } from './pairs.js';
import { createRng, shuffled, type Rng } from './rng.js';

export const DEFAULT_PAIR_SEED = 42;
export const DEFAULT_GENUINE_PER_IDENTITY = 10;
export const DEFAULT_FOLDS = 10;

export interface PairGenerationOptions {
  seed?: number;
  genuinePerIdentity?: number;
  folds?: number;
}

/** `k` distinct index pairs (i < j) out of n items, uniformly, without listing all n(n-1)/2 when n is large. */
function sampleIndexPairs(n: number, k: number, rng: Rng): [number, number][] {
  const total = (n * (n - 1)) / 2;
  if (k >= total || total <= 4 * k) {
    const all: [number, number][] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) all.push([i, j]);
    return shuffled(all, rng).slice(0, Math.min(k, total));
  }
  const seen = new Set<number>();
  const out: [number, number][] = [];
  while (out.length < k) {
    const i = rng.int(n);
    const j = rng.int(n);
    if (i === j) continue;
    const [lo, hi] = i < j ? [i, j] : [j, i];
    const key = lo * n + hi;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([lo, hi]);
  }
  return out;
}

interface Fold {
  identities: IdentityImages[];
  genuine: ImagePair[];
}

function assignFolds(
  identities: readonly IdentityImages[],
  genuineById: Map<string, ImagePair[]>,
  foldCount: number,
  rng: Rng,
): Fold[] {
  const folds: Fold[] = Array.from({ length: foldCount }, () => ({ identities: [], genuine: [] }));
  const order = shuffled(identities, rng);
  const withPairs = order
    .filter((id) => (genuineById.get(id.name)?.length ?? 0) > 0)
    .sort((x, y) => genuineById.get(y.name)!.length - genuineById.get(x.name)!.length); // stable: keeps shuffled order among equals
  // The first fold minimising (primary, secondary): fills folds evenly, ties to the lowest index.
  const lightest = (primary: (f: Fold) => number, secondary: (f: Fold) => number): Fold => {
    let best = folds[0]!;
    for (const f of folds) {
      if (primary(f) < primary(best) || (primary(f) === primary(best) && secondary(f) < secondary(best))) best = f;
    }
    return best;
  };
  const pairCount = (f: Fold) => f.genuine.length;
  const idCount = (f: Fold) => f.identities.length;
  for (const id of withPairs) {
    const fold = lightest(pairCount, idCount);
    fold.identities.push(id);
    fold.genuine.push(...genuineById.get(id.name)!);
  }
  for (const id of order.filter((x) => !genuineById.has(x.name))) lightest(idCount, pairCount).identities.push(id);
  return folds;
}

function sampleImpostors(pool: readonly IdentityImages[], count: number, fold: number, rng: Rng): ImagePair[] {
  const sizes = pool.map((id) => id.images.length);
  const sum = sizes.reduce((a, b) => a + b, 0);
  const possible = (sum * sum - sizes.reduce((a, n) => a + n * n, 0)) / 2;
  const target = Math.min(count, possible);
  const seen = new Set<string>();
  const out: ImagePair[] = [];
  // Bounded so a pool with barely enough distinct pairs cannot loop for long; each attempt is O(1).
  for (let attempts = 0; out.length < target && attempts < 100 * target + 1000; attempts++) {
    const ia = rng.int(pool.length);
    let ib = rng.int(pool.length - 1);
    if (ib >= ia) ib++;
    const A = pool[ia]!;
    const B = pool[ib]!;
    const a = A.images[rng.int(A.images.length)]!;
    const b = B.images[rng.int(B.images.length)]!;
    const key = a < b ? `${a}\n${b}` : `${b}\n${a}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ a, b, same: false, fold });
  }
  return out;
}

/** Generate a balanced, seeded, identity-disjoint 10-fold protocol (see the file comment for the recipe). */
export function generatePairs(dataset: FolderDataset, options: PairGenerationOptions = {}): PairProtocol {
  const seed = options.seed ?? DEFAULT_PAIR_SEED;
  const perIdentity = options.genuinePerIdentity ?? DEFAULT_GENUINE_PER_IDENTITY;
  const foldCount = options.folds ?? DEFAULT_FOLDS;
  if (!Number.isInteger(perIdentity) || perIdentity < 1) {
    throw new FacectlError(ExitCode.USAGE, `genuine pairs per identity must be a positive integer, got ${perIdentity}`);
  }
  if (!Number.isInteger(foldCount) || foldCount < 1) {
    throw new FacectlError(ExitCode.USAGE, `fold count must be a positive integer, got ${foldCount}`);
  }
  const identities = dataset.identities.filter((id) => id.images.length > 0);
  if (identities.length < 2) {
    throw new FacectlError(ExitCode.USAGE, `cannot make impostor pairs: need at least 2 identities, found ${identities.length}`, dataset.root);
  }
  const rng = createRng(seed);

  const genuineById = new Map<string, ImagePair[]>();
  for (const id of identities) {
    if (id.images.length < 2) continue;
    const pairs = sampleIndexPairs(id.images.length, perIdentity, rng).map(([i, j]) => ({
      a: id.images[i]!,
      b: id.images[j]!,
      same: true,
      fold: -1,
    }));
    genuineById.set(id.name, pairs);
  }
  if (genuineById.size === 0) {
    throw new FacectlError(ExitCode.USAGE, 'cannot make genuine pairs: no identity has two or more images', dataset.root);
  }

  const folds = assignFolds(identities, genuineById, foldCount, rng);
  const pairs: ImagePair[] = [];
  const foldsWithGlobalImpostors: number[] = [];
  folds.forEach((fold, f) => {
    if (fold.genuine.length === 0) return;
    let pool = fold.identities;
    if (pool.length < 2) {
      pool = identities;
      foldsWithGlobalImpostors.push(f);
    }
    // Loops, not push(...): a fold holds about one genuine pair per identity, and spreading 1e5+ overflows the stack.
    for (const p of fold.genuine) pairs.push({ ...p, fold: f });
    for (const p of sampleImpostors(pool, fold.genuine.length, f, rng)) pairs.push(p);
  });

  const genuine = pairs.filter((p) => p.same).length;
  const nonEmpty = folds.filter((f) => f.genuine.length > 0).length;
  return {
    source: 'generated',
    description:
      `generated (seed ${seed}, <= ${perIdentity} genuine pairs per identity): ${genuine} genuine + ` +
      `${pairs.length - genuine} impostor pairs in ${nonEmpty} non-empty of ${foldCount} folds`,
    foldCount,
    pairs,
    generation: {
      seed,
      genuinePerIdentity: perIdentity,
      identityDisjointFolds: foldsWithGlobalImpostors.length === 0,
      foldsWithGlobalImpostors,
      identitiesUsed: identities.length,
    },
  };
}
