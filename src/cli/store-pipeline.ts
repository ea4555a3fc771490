/** Commands that work on a gallery use its embedder unless --model says otherwise. */
import type { Gallery } from '../gallery/types.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { loadPipeline, type GlobalOptions } from './common.js';

export async function loadPipelineForStore(opts: GlobalOptions, gallery: Gallery): Promise<FacePipeline> {
  const model = opts.model ?? (await gallery.info()).model?.id;
  return loadPipeline({ ...opts, model });
}
