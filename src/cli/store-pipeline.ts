/** Commands that work on a store use the store's embedder unless --model says otherwise. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { GalleryStore, MANIFEST_FILE } from '../store/index.js';
import { loadPipeline, type GlobalOptions } from './common.js';

export async function loadPipelineForStore(opts: GlobalOptions, storeDir: string): Promise<FacePipeline> {
  let model = opts.model;
  if (!model && existsSync(path.join(storeDir, MANIFEST_FILE))) model = (await GalleryStore.open(storeDir)).model?.id;
  return loadPipeline({ ...opts, model });
}
