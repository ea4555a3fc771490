/**
 * One detection revision, part of the store fingerprint and the eval cache key: another detector or
 * another revision is another fingerprint; stores written before (BlazeFace, revision 2) keep theirs.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { embeddingCacheKey } from '../../src/app/embed-images.js';
import { configureRuntime } from '../../src/pipeline/runtime.js';
import { BUILTIN_EMBEDDERS, embedderFingerprint } from '../../src/models/registry.js';
import { DETECTION_REVISION } from '../../src/pipeline/detectors/types.js';
import { resolveEmbedder } from '../../src/models/resolve.js';

const spec = BUILTIN_EMBEDDERS.find((s) => s.id === 'dlib-resnet')!;
const sha = 'a'.repeat(64);

/** The recipe facectl 0.1.0 hashed (src/models/registry.ts before detectors were plug-ins). */
function fingerprintBefore(): string {
  const recipe = JSON.stringify({
    w: sha,
    size: spec.inputSize,
    layout: spec.layout,
    ch: spec.channels,
    mean: spec.mean,
    std: spec.std,
    t: spec.template.points.map(([x, y]) => [x.toFixed(4), y.toFixed(4)]),
    flip: spec.flip,
    pipeline: 1,
  });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

describe('store fingerprint', () => {
  it('keeps the fingerprint of stores made with BlazeFace at detection revision 2', () => {
    expect(DETECTION_REVISION).toBe(2);
    expect(embedderFingerprint(spec, sha, 'blazeface')).toBe(fingerprintBefore());
  });

  it('changes with the detector and with the detection revision', () => {
    const base = embedderFingerprint(spec, sha, 'blazeface');
    const others = [
      embedderFingerprint(spec, sha, 'blazeface-front'),
      embedderFingerprint(spec, sha, 'mtcnn'),
      embedderFingerprint(spec, sha, 'blazeface', DETECTION_REVISION + 1),
      embedderFingerprint(spec, sha, 'mtcnn', DETECTION_REVISION + 1),
    ];
    expect(new Set([base, ...others]).size).toBe(5);
  });

  it('the eval cache key follows the same fingerprint and revision', () => {
    const info = (detector: string) => ({ spec, path: '', sha256: sha, fingerprint: embedderFingerprint(spec, sha, detector), detector });
    const key = embeddingCacheKey({ embedderInfo: info('blazeface') }, 'center');
    expect(key).toBe(`dlib-resnet-${fingerprintBefore()}-center-r${DETECTION_REVISION}-x2`);
    expect(embeddingCacheKey({ embedderInfo: info('blazeface-front') }, 'center')).not.toBe(key);
    // Embeddings computed with the file's own PRelu ops, or with the PRelu split but not folded, are
    // kept apart from the default's.
    try {
      configureRuntime({ preluFold: false });
      expect(embeddingCacheKey({ embedderInfo: info('blazeface') }, 'center')).toBe(`dlib-resnet-${fingerprintBefore()}-center-r${DETECTION_REVISION}-x1`);
      configureRuntime({ preluRewrite: false });
      expect(embeddingCacheKey({ embedderInfo: info('blazeface') }, 'center')).toBe(`dlib-resnet-${fingerprintBefore()}-center-r${DETECTION_REVISION}`);
    } finally {
      configureRuntime({ preluRewrite: true, preluFold: true });
    }
  });
});

describe('ensemble fingerprints', () => {
  it('`ensemble` keeps the fingerprint its stores recorded (before ensembles passed their flip to members); `ensemble-noflip` has its own', async () => {
    // 9799bc7053ad70fb: `facectl info` on an `ensemble` store written on 2026-12-03 (README tour of that day).
    const ensemble = await resolveEmbedder('ensemble', 'blazeface');
    expect(ensemble.fingerprint).toBe('9799bc7053ad70fb');
    const noflip = await resolveEmbedder('ensemble-noflip', 'blazeface');
    expect(noflip.fingerprint).not.toBe(ensemble.fingerprint);
    expect(noflip.members!.map((m) => m.spec.flip)).toEqual([false, false]);
    expect(ensemble.members!.map((m) => m.spec.flip)).toEqual([true, true]);
  }, 120_000); // converts both members on first use
});
