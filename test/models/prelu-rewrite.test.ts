/**
 * PRelu run as (1 − α)·Relu(x) + α·x (src/models/onnx/prelu-rewrite.ts): the same function within
 * float32 rounding for any slope (negative, zero, above one; per channel or one for all), only where
 * the slope is a constant, and through the runtime for the real embedders on real LFW faces.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getBuiltinModel } from '../../src/models/builtin.js';
import { onnx } from '../../src/models/onnx/proto.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { rewritePrelu } from '../../src/models/onnx/prelu-rewrite.js';
import { resolveEmbedder } from '../../src/models/resolve.js';
import { loadEmbedder } from '../../src/pipeline/pipeline.js';
import { configureRuntime, getSession, rewrittenPreluCount } from '../../src/pipeline/runtime.js';
import { hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';
import { maxRelativeError, rowCosines } from './compare.js';
import { embedderInput, LFW_FACES, lfwFaceCrop } from './face-crops.js';
import { createSession, runSession } from './session.js';

const DIMS = [2, 4, 3, 3];
const opTypes = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType);

/** x → PRelu(per-channel slope) → PRelu(one slope) [→ PRelu(slope fed at run time)]. */
function preluModel(opts: { opset?: number; computedSlope?: boolean } = {}): Uint8Array {
  const b = new OnnxGraphBuilder('prelu', { opset: opts.opset });
  const x = b.addInput('x', DIMS);
  let y = b.node('PRelu', [x, b.constFloat('per_channel', [-0.5, 0.25, 1.5, 0], [4, 1, 1])]);
  y = b.node('PRelu', [y, b.constFloat('one', [0.1], [1])]);
  if (opts.computedSlope) y = b.node('PRelu', [y, b.node('Abs', [b.constFloat('s', [-0.3, 0.2, 2, -1], [4, 1, 1])])]);
  b.exposeAs(y, 'y', DIMS);
  return b.toBytes();
}

const input = Float32Array.from({ length: DIMS.reduce((a, c) => a * c, 1) }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
const run = async (bytes: Uint8Array) => (await runSession(await createSession(bytes), input, DIMS)).y!;

describe('PRelu rewrite', () => {
  it('rewrites constant-slope PRelu into Relu/Mul/Add with the same result (slopes < 0, 0, > 1, per channel and shared)', async () => {
    const bytes = preluModel();
    const { bytes: out, rewritten } = rewritePrelu(bytes);
    expect(rewritten).toBe(2);
    expect(opTypes(out)).not.toContain('PRelu');
    expect(opTypes(out).filter((t) => t === 'Relu')).toHaveLength(2);
    expect(maxRelativeError(await run(out), await run(bytes))).toBeLessThan(1e-6);
  });

  it('leaves a slope computed in the graph alone, and rewrites the rest', async () => {
    const bytes = preluModel({ computedSlope: true });
    const { bytes: out, rewritten } = rewritePrelu(bytes);
    expect(rewritten).toBe(2);
    expect(opTypes(out).filter((t) => t === 'PRelu')).toHaveLength(1);
    expect(maxRelativeError(await run(out), await run(bytes))).toBeLessThan(1e-6);
  });

  it('returns the very same bytes for a model without PRelu, and for opsets before 7', () => {
    const b = new OnnxGraphBuilder('relu');
    b.exposeAs(b.node('Relu', [b.addInput('x', DIMS)]), 'y', DIMS);
    const plain = b.toBytes();
    expect(rewritePrelu(plain)).toEqual({ bytes: plain, rewritten: 0 });
    const old = preluModel({ opset: 6 });
    expect(rewritePrelu(old).bytes).toBe(old);
  });
});

describe('PRelu rewrite in the runtime', () => {
  it('falls back to the file when onnxruntime refuses the rewritten model (weights in an external data file)', async () => {
    // x · W → PRelu: W lives in w.bin beside the model, which onnxruntime finds from the file's path but
    // not from bytes in memory; the rewrite therefore fails to load and the file must be run instead.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-prelu-'));
    const b = new OnnxGraphBuilder('external');
    const x = b.addInput('x', DIMS);
    const weight = Float32Array.from({ length: 4 }, (_, i) => i + 1);
    writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(weight.buffer));
    const w = b.addInitializer('w', weight, [4, 1, 1]);
    const y = b.node('PRelu', [b.node('Mul', [x, w]), b.constFloat('slope', [0.1, 0.2, 0.3, 0.4], [4, 1, 1])]);
    b.exposeAs(y, 'y', DIMS);
    const model = b.toModelProto();
    const init = model.graph!.initializer!.find((t) => t.name === w)!;
    init.rawData = new Uint8Array(0);
    init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    init.externalData = [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: '16' }];
    const file = path.join(dir, 'model.onnx');
    const bytes = onnx.ModelProto.encode(model).finish();
    writeFileSync(file, bytes);
    expect(rewritePrelu(bytes).rewritten).toBe(1); // the rewrite itself applies…
    const session = await getSession(file);
    expect(rewrittenPreluCount(session)).toBe(0); // …but the session runs the file
    const out = (await runSession(session, input, DIMS)).y!;
    const i = input.findIndex((v) => v < 0); // channel 0 for the first elements: w 1, slope 0.1
    expect(out[i]).toBeCloseTo(input[i]! * 1 * 0.1, 6);
  });
});

describe.skipIf(!hasDatasets)('PRelu rewrite on the real embedders, through the runtime', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});

  it.each(['mobilefacenet', 'faceplugin'])('%s: every PRelu rewritten; real LFW faces embed the same (cosine ≥ 0.99999, max rel. error ≤ 1e-5)', async (id) => {
    const model = getBuiltinModel(id as 'mobilefacenet').convert().bytes;
    const { bytes, rewritten } = rewritePrelu(model);
    expect(rewritten).toBe(opTypes(model).filter((t) => t === 'PRelu').length);
    expect(rewritten).toBeGreaterThan(30);
    const x = await embedderInput(id);
    const dims = id === 'faceplugin' ? [4, 3, 112, 112] : [4, 112, 112, 3];
    const want = Object.values(await runSession(await createSession(model), x, dims))[0]!;
    const got = Object.values(await runSession(await createSession(bytes), x, dims))[0]!;
    expect(maxRelativeError(got, want)).toBeLessThanOrEqual(1e-5);
    for (const cos of rowCosines(got, want, want.length / 4)) expect(cos).toBeGreaterThanOrEqual(0.99999);
  });

  it('the runtime runs a built-in embedder (mobilefacenet, a member of the default) rewritten, and as the file has it when asked', async () => {
    const resolved = await resolveEmbedder('mobilefacenet', 'blazeface');
    const as = async (preluRewrite: boolean) => {
      configureRuntime({ preluRewrite });
      try {
        return { session: await getSession(resolved.path), embedder: await loadEmbedder(resolved) };
      } finally {
        configureRuntime({ preluRewrite: true });
      }
    };
    const [fast, file] = [await as(true), await as(false)];
    expect(rewrittenPreluCount(fast.session)).toBeGreaterThan(30);
    expect(rewrittenPreluCount(file.session)).toBe(0);
    const crops = await Promise.all(LFW_FACES.map((f) => lfwFaceCrop(f, 112)));
    const [a, b] = [await fast.embedder.embedCrops(crops), await file.embedder.embedCrops(crops)];
    for (const [i, v] of a.entries()) expect(rowCosines(v, b[i]!, v.length)[0]).toBeGreaterThanOrEqual(0.99999);
  });
});
