/** Write a calibrated login threshold into a gallery's manifest, with where it came from. */
import { ExitCode, FacectlError } from '../errors.js';
import type { Gallery, ModelInfo } from '../gallery/types.js';
import type { ResolvedEmbedder } from '../models/resolve.js';
import { storeDetector, storeModelInfo } from './store-model.js';

/** A threshold for `model` does not hold for a store built with another model or detector (exit 10). */
function refuseOtherModel(stored: ModelInfo | null, model: ResolvedEmbedder): void {
  const info = storeModelInfo(model);
  if (stored && (stored.id !== info.id || stored.hash !== info.hash))
    throw new FacectlError(
      ExitCode.MODEL_MISMATCH,
      `store was built with model ${stored.id} and detector ${storeDetector(stored)}; this threshold was calibrated for ${info.id} and ${model.detector}: calibrate with --model ${stored.id} --detector ${storeDetector(stored)} (the default for a store)`,
    );
}

/** Before an evaluation whose threshold goes into `gallery`: refuse now, not after embedding a dataset. */
export async function checkCalibrationTarget(gallery: Gallery, model: ResolvedEmbedder): Promise<void> {
  refuseOtherModel((await gallery.info()).model, model);
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
    refuseOtherModel(draft.model, model);
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
