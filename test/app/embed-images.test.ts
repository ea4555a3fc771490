/**
 * embedImages (eval's embedding loop) with a stand-in pipeline: a photo's own failure (no face) is a
 * result and is cached; a model failure stops the run with the model's error and is cached for no photo.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { embedImages } from '../../src/app/embed-images.js';
import { ExitCode, FacectlError, ModelError } from '../../src/errors.js';
import { EmbeddingCache } from '../../src/eval/index.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';

const DIM = 4;

/** A pipeline whose outcome depends on the photo's bytes: "face", "no face" or "model fails". */
const pipeline = {
  decodeBytes: async (bytes: Uint8Array) => ({ text: Buffer.from(bytes).toString() }),
  processImage: async (image: { text: string }, _policy: unknown, _opts: unknown, file: string) => {
    if (image.text === 'no face') throw new FacectlError(ExitCode.NO_FACE, 'no face found', file);
    if (image.text === 'model fails') throw new ModelError('toy', "Reshape node 'pair': The input tensor cannot be reshaped");
    return [{ embedding: Float32Array.of(1, 0, 0, 0) }];
  },
} as unknown as FacePipeline;

function photos(contents: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-embed-images-'));
  for (const [name, text] of Object.entries(contents)) writeFileSync(path.join(root, name), text);
  return root;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('embedImages', () => {
  it('a photo without a face is a failed result, cached like an embedding', async () => {
    const root = photos({ 'a.jpg': 'face', 'b.jpg': 'no face' });
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-embed-cache-'));
    const cache = EmbeddingCache.open(cacheDir, 'toy', DIM);
    const r = await embedImages(pipeline, root, ['a.jpg', 'b.jpg'], { policy: 'center', cache });
    cache.close();
    expect(r.results.get('a.jpg')!.ok).toBe(true);
    expect(r.results.get('b.jpg')).toEqual({ ok: false, reason: 'no face found' });
    expect(EmbeddingCache.open(cacheDir, 'toy', DIM).get(sha('no face'))).toEqual({ ok: false, reason: 'no face found' });
  });

  it('a model that cannot run stops the run with its ModelError (exit 13) and nothing is cached for that photo', async () => {
    const root = photos({ 'a.jpg': 'face', 'b.jpg': 'model fails', 'c.jpg': 'no face' });
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-embed-cache-'));
    const cache = EmbeddingCache.open(cacheDir, 'toy', DIM);
    const err = await embedImages(pipeline, root, ['a.jpg', 'b.jpg', 'c.jpg'], { policy: 'center', cache }).then(() => null, (e: unknown) => e);
    cache.close();
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe(ExitCode.MODEL_ERROR);
    const reopened = EmbeddingCache.open(cacheDir, 'toy', DIM);
    expect(reopened.get(sha('model fails'))).toBeUndefined();
    // What was embedded before the failure is kept.
    expect(reopened.get(sha('face'))?.ok).toBe(true);
  });

  /** FIFOs made by a test: a reader left blocked on one (the code before the fix) is let go after it. */
  const fifos: string[] = [];
  afterEach(() => {
    for (const f of fifos.splice(0)) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* no reader waiting (ENXIO) */
      }
    }
  });

  it('a FIFO named as a photo (a pairs file names them by hand) is that photo\'s failure, not a hang', { timeout: 5000 }, async () => {
    const root = photos({ 'a.jpg': 'face' });
    const fifo = path.join(root, 'b.jpg');
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    const r = await embedImages(pipeline, root, ['a.jpg', 'b.jpg'], { policy: 'center' });
    expect(r.results.get('a.jpg')!.ok).toBe(true);
    expect(r.results.get('b.jpg')).toEqual({ ok: false, reason: 'a FIFO (named pipe), not a photo file' });
  });

  it('a link to a device (/dev/zero, endless) is not read: that photo\'s failure', { timeout: 5000 }, async () => {
    const root = photos({ 'a.jpg': 'face' });
    symlinkSync('/dev/zero', path.join(root, 'b.jpg'));
    const r = await embedImages(pipeline, root, ['a.jpg', 'b.jpg'], { policy: 'center' });
    expect(r.results.get('b.jpg')).toEqual({ ok: false, reason: 'a device, not a photo file' });
    expect(r.results.get('a.jpg')!.ok).toBe(true);
  });
});
