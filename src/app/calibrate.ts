/** Write a calibrated login threshold into a gallery's manifest, with where it came from. */
import { ExitCode, FacectlError } from '../errors.js';
import type { Gallery } from '../gallery/types.js';
import type { ResolvedEmbedder } from '../models/resolve.js';
import { storeDetector, storeModelInfo } from './store-model.js';

export async function calibrateStoreThreshold(
  gallery: Gallery,
  model: ResolvedEmbedder,
  calibration: { value: number; dataset: string; targetFpr: number; basis: 'pairs' | 'open-set' },
): Promise<void> {
  if (!Number.isFinite(calibration.value)) throw new FacectlError(ExitCode.USAGE, 'calibration produced no finite threshold');
  const info = storeModelInfo(model);
  await gallery.mutate(async (draft) => {
    if (draft.model && (draft.model.id !== info.id || draft.model.hash !== info.hash))
      throw new FacectlError(
        ExitCode.MODEL_MISMATCH,
        `store was built with model ${draft.model.id} and detector ${storeDetector(draft.model)}; this threshold was calibrated for ${info.id} and ${model.detector}: calibrate with --model ${draft.model.id} --detector ${storeDetector(draft.model)} (the default for a store)`,
      );
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
