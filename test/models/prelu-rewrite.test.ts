/**
 * PRelu run as (1 − α)·Relu(x) + α·x, or as (1 − α)·(Relu(x) + α/(1 − α)·x) with 1 − α folded into the
 * convolutions that read it (src/models/onnx/prelu-rewrite.ts, prelu-fold.ts): the same function within
 * float32 rounding for any slope (negative, zero, tiny, near and above one; per channel or one for all),
 * only where the slope is a constant, and through the runtime for the real embedders on real LFW faces.
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
import { configureRuntime, getSession, sessionPreluRewrite } from '../../src/pipeline/runtime.js';
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
    const { bytes: out, rewritten, folded } = rewritePrelu(bytes);
    expect(rewritten).toBe(2);
    expect(folded).toBe(0); // no convolution reads them: the split form
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
    expect(rewritePrelu(plain)).toEqual({ bytes: plain, rewritten: 0, folded: 0 });
    const old = preluModel({ opset: 6 });
    expect(rewritePrelu(old).bytes).toBe(old);
  });
});

/** Deterministic values in about [-1, 1]. */
const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * (0.5 + ((i * 7) % 5) / 8));
const runAll = async (bytes: Uint8Array, x: Float32Array, dims: number[]) => runSession(await createSession(bytes), x, dims);
const muls = (bytes: Uint8Array) => opTypes(bytes).filter((t) => t === 'Mul').length;

/** Every output of the rewritten model against the file's: max rel. error per output. */
async function worstError(bytes: Uint8Array, out: Uint8Array, dims: number[]): Promise<number> {
  const x = Float32Array.from(wave(dims.reduce((a, d) => a * d, 1), 1.3), (v) => v * 3);
  const [want, got] = [await runAll(bytes, x, dims), await runAll(out, x, dims)];
  return Math.max(...Object.keys(want).map((k) => maxRelativeError(got[k]!, want[k]!)));
}

// Slopes < 0, tiny, > 1, within 1e-5 of 1: the folded form divides by 1 − α, so these are the hard ones.
const HARD_SLOPES = [-0.5, 1e-36, 1.5, 1 - 1e-5];

describe('PRelu folded into the convolutions that read it', () => {
  it('conv → PRelu → a full and a depthwise (multiplier 2) conv, both padded: folded, one Mul per PRelu, same result', async () => {
    const b = new OnnxGraphBuilder('fold');
    const x = b.addInput('x', ['N', 4, 5, 5]);
    const conv = (input: string, out: number, group: number, hint: string) =>
      b.node('Conv', [input, b.constFloat(`${hint}_w`, wave((out * 4 * 9) / group, 0.7 + out), [out, 4 / group, 3, 3]), b.constFloat(`${hint}_b`, wave(out, 2.1), [out])], { pads: [1, 1, 1, 1], group });
    const y = b.node('PRelu', [conv(x, 4, 1, 'a'), b.constFloat('slope', HARD_SLOPES, [4, 1, 1])]);
    b.exposeAs(conv(y, 3, 1, 'full'), 'full', ['N', 3, 5, 5]);
    b.exposeAs(conv(y, 8, 4, 'depthwise'), 'depthwise', ['N', 8, 5, 5]);
    const bytes = b.toBytes();
    const out = rewritePrelu(bytes);
    expect(out).toMatchObject({ rewritten: 1, folded: 1 });
    expect(muls(out.bytes)).toBe(1);
    expect(await worstError(bytes, out.bytes, [2, 4, 5, 5])).toBeLessThan(1e-5);
    // The split form of the same model, for comparison: two Muls.
    expect(muls(rewritePrelu(bytes, { fold: false }).bytes)).toBe(2);
  });

  it('NHWC PRelu (slope [C]) read through a Transpose to NCHW: folded', async () => {
    const b = new OnnxGraphBuilder('nhwc');
    const x = b.addInput('x', ['N', 5, 5, 4]);
    const y = b.node('PRelu', [x, b.constFloat('slope', HARD_SLOPES, [4])]);
    const t = b.node('Transpose', [y], { perm: [0, 3, 1, 2] });
    b.exposeAs(b.node('Conv', [t, b.constFloat('w', wave(2 * 4, 0.9), [2, 4, 1, 1])]), 'y', ['N', 2, 5, 5]);
    const bytes = b.toBytes();
    const out = rewritePrelu(bytes);
    expect(out).toMatchObject({ rewritten: 1, folded: 1 });
    expect(await worstError(bytes, out.bytes, [2, 5, 5, 4])).toBeLessThan(1e-5);
  });

  it('weights shared by several convolutions: each gets its own scaled copy, the one reading something else keeps them', async () => {
    const b = new OnnxGraphBuilder('shared');
    const x = b.addInput('x', ['N', 4, 3, 3]);
    const w = b.constFloat('w', wave(4 * 4, 1.1), [4, 4, 1, 1]);
    const y = b.node('PRelu', [x, b.constFloat('slope', HARD_SLOPES, [1, 4, 1, 1])]);
    b.exposeAs(b.node('Conv', [y, w]), 'first', ['N', 4, 3, 3]);
    b.exposeAs(b.node('Conv', [y, w]), 'second', ['N', 4, 3, 3]);
    b.exposeAs(b.node('Conv', [x, w]), 'untouched', ['N', 4, 3, 3]);
    const bytes = b.toBytes();
    const out = rewritePrelu(bytes);
    expect(out).toMatchObject({ rewritten: 1, folded: 1 });
    expect(await worstError(bytes, out.bytes, [2, 4, 3, 3])).toBeLessThan(1e-5);
  });

  it.each([
    ['its output is also read by an Add (a residual)', 'residual'],
    ['its output is a graph output', 'output'],
    ['one slope is exactly 1', 'one'],
    ['its slope [C] runs along the width, not the conv channels', 'width'],
  ])('split, not folded, when %s; same result', async (_, kind) => {
    const b = new OnnxGraphBuilder(kind);
    const x = b.addInput('x', ['N', 4, 5, 4]);
    const slopes = kind === 'one' ? [0.25, 1, -0.5, 2] : HARD_SLOPES;
    const y = b.node('PRelu', [x, b.constFloat('slope', slopes, kind === 'width' ? [4] : [4, 1, 1])]);
    const conv = b.node('Conv', [y, b.constFloat('w', wave(4 * 4 * 9, 0.4), [4, 4, 3, 3])], { pads: [1, 1, 1, 1] });
    b.exposeAs(kind === 'residual' ? b.node('Add', [conv, y]) : conv, 'y', ['N', 4, 5, 4]);
    if (kind === 'output') b.exposeAs(y, 'prelu', ['N', 4, 5, 4]);
    const bytes = b.toBytes();
    const out = rewritePrelu(bytes);
    expect(out).toMatchObject({ rewritten: 1, folded: 0 });
    expect(await worstError(bytes, out.bytes, [2, 4, 5, 4])).toBeLessThan(1e-5);
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
    expect(sessionPreluRewrite(session).rewritten).toBe(0); // …but the session runs the file
    const out = (await runSession(session, input, DIMS)).y!;
    const i = input.findIndex((v) => v < 0); // channel 0 for the first elements: w 1, slope 0.1
    expect(out[i]).toBeCloseTo(input[i]! * 1 * 0.1, 6);
  });
});

describe.skipIf(!hasDatasets)('PRelu rewrite on the real embedders, through the runtime', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});

  it.each(['mobilefacenet', 'faceplugin'])('%s: every PRelu rewritten, folded and split; real LFW faces embed the same (cosine ≥ 0.99999, max rel. error ≤ 1e-5)', async (id) => {
    const model = (await getBuiltinModel(id as 'mobilefacenet').convert()).bytes;
    const x = await embedderInput(id);
    const dims = id === 'faceplugin' ? [4, 3, 112, 112] : [4, 112, 112, 3];
    const want = Object.values(await runSession(await createSession(model), x, dims))[0]!;
    const prelus = opTypes(model).filter((t) => t === 'PRelu').length;
    expect(prelus).toBeGreaterThan(30);
    for (const fold of [true, false]) {
      const { bytes, rewritten, folded } = rewritePrelu(model, { fold });
      expect(rewritten).toBe(prelus);
      // Every PRelu of both reads only convolutions (MobileFaceNet's through a Transpose back to NCHW).
      expect(folded).toBe(fold ? prelus : 0);
      const got = Object.values(await runSession(await createSession(bytes), x, dims))[0]!;
      expect(maxRelativeError(got, want)).toBeLessThanOrEqual(1e-5);
      for (const cos of rowCosines(got, want, want.length / 4)) expect(cos).toBeGreaterThanOrEqual(0.99999);
    }
  });

  it('the runtime runs a built-in embedder (mobilefacenet, a member of the default) folded, and split or as the file has it when asked', async () => {
    const resolved = await resolveEmbedder('mobilefacenet', 'blazeface');
    const as = async (preluRewrite: boolean, preluFold = true) => {
      configureRuntime({ preluRewrite, preluFold });
      try {
        return { session: await getSession(resolved.path), embedder: await loadEmbedder(resolved) };
      } finally {
        configureRuntime({ preluRewrite: true, preluFold: true });
      }
    };
    const [fast, split, file] = [await as(true), await as(true, false), await as(false)];
    expect(sessionPreluRewrite(fast.session).rewritten).toBeGreaterThan(30);
    expect(sessionPreluRewrite(fast.session).folded).toBe(sessionPreluRewrite(fast.session).rewritten);
    expect(sessionPreluRewrite(split.session)).toEqual({ rewritten: sessionPreluRewrite(fast.session).rewritten, folded: 0 });
    expect(sessionPreluRewrite(file.session).rewritten).toBe(0);
    const crops = await Promise.all(LFW_FACES.map((f) => lfwFaceCrop(f, 112)));
    const b = await file.embedder.embedCrops(crops);
    for (const variant of [fast, split])
      for (const [i, v] of (await variant.embedder.embedCrops(crops)).entries()) expect(rowCosines(v, b[i]!, v.length)[0]).toBeGreaterThanOrEqual(0.99999);
  });
});
