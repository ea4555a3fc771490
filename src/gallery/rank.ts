/** The one ranking of a search's candidates, for every backend. */
import type { Candidate } from './types.js';

/** A candidate with the position of its identity's first face (its enrollment order). */
export interface ScoredCandidate {
  candidate: Candidate;
  enrolled: number;
}

/**
 * The `k` best candidates: highest score first; of equal scores, the identity enrolled first. Sorts
 * `scored` in place.
 */
export function topCandidates(scored: ScoredCandidate[], k: number): Candidate[] {
  scored.sort((a, b) => b.candidate.score - a.candidate.score || a.enrolled - b.enrolled);
  return scored.slice(0, k).map((x) => x.candidate);
}
