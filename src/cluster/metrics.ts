/**
 * How well found groups match the true identities. BCubed (Amigó et al. 2009): for each item, precision =
 * the share of its group that is its person, recall = the share of its person that is in its group;
 * both averaged over items. Pairwise: precision and recall over the pairs of items put together.
 */
export interface ClusteringScores {
  items: number;
  groups: number;
  classes: number;
  bcubedPrecision: number;
  bcubedRecall: number;
  bcubedF1: number;
  pairPrecision: number;
  pairRecall: number;
}

const pairs = (m: number) => (m * (m - 1)) / 2;

/**
 * `found[i]` and `truth[i]`: the group and the true identity of item i (any labels). Labels are compared
 * as strings (1 and '1' are one label), the same way in every count, so the combined group-and-person key
 * can never merge two labels that the per-group or per-person counts keep apart.
 */
export function clusteringScores(foundLabels: readonly (number | string)[], truthLabels: readonly (number | string)[]): ClusteringScores {
  if (foundLabels.length !== truthLabels.length) throw new RangeError(`${foundLabels.length} group labels for ${truthLabels.length} items`);
  const found = foundLabels.map(String);
  const truth = truthLabels.map(String);
  const count = <K>(keys: K[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<K, number>());
  const groupSize = count([...found]);
  const classSize = count([...truth]);
  const both = count(found.map((g, i) => `${g}\u0000${truth[i]}`));
  let p = 0, r = 0;
  found.forEach((g, i) => {
    const shared = both.get(`${g}\u0000${truth[i]}`)!;
    p += shared / groupSize.get(g)!;
    r += shared / classSize.get(truth[i]!)!;
  });
  const n = found.length || 1;
  const [bp, br] = [p / n, r / n];
  const together = [...both.values()].reduce((s, m) => s + pairs(m), 0);
  const predicted = [...groupSize.values()].reduce((s, m) => s + pairs(m), 0);
  const actual = [...classSize.values()].reduce((s, m) => s + pairs(m), 0);
  return {
    items: found.length,
    groups: groupSize.size,
    classes: classSize.size,
    bcubedPrecision: bp,
    bcubedRecall: br,
    bcubedF1: bp + br ? (2 * bp * br) / (bp + br) : 0,
    pairPrecision: predicted ? together / predicted : 1,
    pairRecall: actual ? together / actual : 1,
  };
}
