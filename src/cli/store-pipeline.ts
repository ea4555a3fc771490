/** Commands that work on a gallery use its embedder and detector unless --model / --detector say otherwise. */
import { storeDetector } from '../app/store-model.js';
import { ExitCode, isFacectlError } from '../errors.js';
import type { Gallery, ModelInfo } from '../gallery/types.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { loadPipeline, type GlobalOptions } from './common.js';

/**
 * `damaged`: a gallery too damaged to open (STORE_ERROR) gives the model it still records
 * (Gallery.readableModel), for `index rebuild --reembed`, which repairs it; other commands keep the error.
 */
export async function loadPipelineForStore(opts: GlobalOptions, gallery: Gallery, options: { damaged?: boolean } = {}): Promise<FacePipeline> {
  const stored = await storedModel(gallery, !!options.damaged);
  return loadPipeline({ ...opts, model: opts.model ?? stored?.id, detector: opts.detector ?? (stored ? storeDetector(stored) : undefined) });
}

async function storedModel(gallery: Gallery, damaged: boolean): Promise<ModelInfo | null> {
  try {
    return (await gallery.info()).model;
  } catch (err) {
    if (!damaged || !gallery.readableModel || !(isFacectlError(err) && err.code === ExitCode.STORE_ERROR)) throw err;
    return gallery.readableModel();
  }
}
