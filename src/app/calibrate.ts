/** Write a calibrated login threshold into a gallery's manifest, with where it came from. */
import { ExitCode, FacectlError } from '../errors.js';
import type { Gallery, ModelInfo } from '../gallery/types.js';
import type { ResolvedEmbedder } from '../models/resolve.js';
import { storeDetector, storeModelInfo } from './store-model.js';

/**
 * A threshold for `model` does not hold for a store built with another model or detector (exit 10).
 * `when`: before the evaluation nothing is calibrated yet (`before`); under the store's lock it is (`after`).
 */
function refuseOtherModel(stored: ModelInfo | null, model: ResolvedEmbedder, when: 'before' | 'after'): void {
  const info = storeModelInfo(model);
  const asked = `${info.id} and ${model.detector}`;
  if (stored && (stored.id !== info.id || stored.hash !== info.hash))
    throw new FacectlError(
      ExitCode.MODEL_MISMATCH,
      `store was built with model ${stored.id} and detector ${storeDetector(stored)}; ${when === 'before' ? `a threshold calibrated for ${asked} would not hold for it (nothing calibrated)` : `this threshold was calibrated for ${asked} (not written)`}: calibrate with --model ${stored.id} --detector ${storeDetector(stored)} (the default for a store)`,
    );
}

/** Before an evaluation whose threshold goes into `gallery`: refuse now, not after embedding a dataset. */
export async function checkCalibrationTarget(gallery: Gallery, model: ResolvedEmbedder): Promise<void> {
  refuseOtherModel((await gallery.info()).model, model, 'before');
}

export async function calibrateStoreThreshold(
  gallery: Gallery,
  model: ResolvedEmbedder,
  calibration: { value: number; dataset: string; targetFpr: number; basis: 'pairs' | 'open-set' },
): Promise<void> {
  if (!Number.isFinite(calibration.value)) throw new FacectlError(ExitCode.USAGE, 'calibration produced no finite threshold');
  const info = storeModelInfo(model);
  await gallery.mutate(async (draft) => {
    // Checked again under the lock: another process may have enrolled with another model meanwhile.
    refuseOtherModel(draft.model, model, 'after');
    await draft.setThreshold({
      value: calibration.value,
      source: 'calibrated',
      dataset: calibration.dataset,
      targetFpr: calibration.targetFpr,
      basis: calibration.basis,
      date: new Date().toISOString(),
      model: info.id,
    });
  });
}
