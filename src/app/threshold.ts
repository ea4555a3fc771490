/** The login threshold a gallery applies, in one place for `login`, `enroll`'s duplicate check and `info`. */
import type { ThresholdInfo } from '../gallery/types.js';
import type { EmbedderSpec } from '../models/registry.js';

export interface EffectiveThreshold {
  value: number;
  source: string;
}

/** The rate a calibrated threshold was fitted at: FPIR over an open-set search (1:N), else FPR over impostor pairs (1:1). */
export const rateName = (basis: ThresholdInfo['basis']): 'FPIR' | 'FPR' => (basis === 'open-set' ? 'FPIR' : 'FPR');

/** --threshold, else the gallery's own (calibrated or set), else the model's default login threshold. */
export function effectiveThreshold(stored: ThresholdInfo | null, spec: EmbedderSpec | null, override?: number): EffectiveThreshold | null {
  if (override !== undefined) return { value: override, source: '--threshold' };
  if (stored) {
    const rate = rateName(stored.basis);
    return {
      value: stored.value,
      source: stored.source === 'calibrated' ? `calibrated on ${stored.dataset ?? '?'} at ${rate} ${stored.targetFpr ?? '?'} (${stored.date.slice(0, 10)})` : stored.source,
    };
  }
  if (!spec) return null;
  const d = spec.thresholds.login;
  return { value: d.value, source: `model default, ${d.provenance}` };
}
