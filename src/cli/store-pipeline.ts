/** Commands that work on a store use the store's embedder and detector unless --model / --detector say otherwise. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { storeDetector } from '../app/store-model.js';
import { GalleryStore, MANIFEST_FILE } from '../store/index.js';
import { loadPipeline, type GlobalOptions } from './common.js';

export async function loadPipelineForStore(opts: GlobalOptions, storeDir: string): Promise<FacePipeline> {
  const stored = existsSync(path.join(storeDir, MANIFEST_FILE)) ? (await GalleryStore.open(storeDir)).model : null;
  return loadPipeline({ ...opts, model: opts.model ?? stored?.id, detector: opts.detector ?? (stored ? storeDetector(stored) : undefined) });
}
