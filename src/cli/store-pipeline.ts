/** Commands that work on a gallery use its embedder and detector unless --model / --detector say otherwise. */
import { storeDetector } from '../app/store-model.js';
import type { Gallery } from '../gallery/types.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { loadPipeline, type GlobalOptions } from './common.js';

export async function loadPipelineForStore(opts: GlobalOptions, gallery: Gallery): Promise<FacePipeline> {
  const stored = (await gallery.info()).model;
  return loadPipeline({ ...opts, model: opts.model ?? stored?.id, detector: opts.detector ?? (stored ? storeDetector(stored) : undefined) });
}
