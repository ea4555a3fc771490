/**
 * SCRFD and YOLOv5-face decoding, NMS and the mapping back to image pixels, on synthetic ONNX files that
 * emit known tensors; and the model router telling detectors from embedders by their signatures.
 * Expected values are worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../../src/models/onnx/toy-embedder.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addUserModel, inspectOnnx, listUserDetectors } from '../../../src/models/user-models.js';
import { OnnxFaceDetector, PRE_NMS_TOP_K } from '../../../src/pipeline/detectors/onnx-detector.js';
import { decodeScrfd } from '../../../src/pipeline/detectors/scrfd-decode.js';
import { decodeYolo5Face } from '../../../src/pipeline/detectors/yolo5face-decode.js';
import { createSession } from '../../models/session.js';
import { constantOutputsOnnx, scrfdOutputs, yolo5FaceOutput } from './fixtures/synthetic-detectors.js';

// SCRFD, 64×64 input. Stride 8: 8 columns, anchors 2 per cell. Anchor 20 → cell 10 → centre (16, 8).
const A = { stride: 8, anchor: 20, score: 0.9, dist: [1, 1, 2, 2], kps: [0, 0.5, 1, 0.5, 0.5, 1, 0, 1.5, 1, 1.5] };
// Same cell, second anchor, same box, lower score: suppressed by NMS.
const A2 = { ...A, anchor: 21, score: 0.8 };
// Stride 16: 4 columns. Anchor 23 → cell 11 → centre (48, 32).
const B = { stride: 16, anchor: 23, score: 0.7, dist: [0.5, 0.5, 0.5, 0.5], kps: [-0.25, -0.1, 0.25, -0.1, 0, 0, -0.2, 0.2, 0.2, 0.2] };
// Stride 32, below the 0.5 threshold.
const C = { stride: 32, anchor: 0, score: 0.3, dist: [1, 1, 1, 1], kps: new Array(10).fill(0) };
const scrfd = scrfdOutputs(64, [A, A2, B, C]);

const round = (v: number) => Math.round(v * 1e4) / 1e4;
const pts = (p: { x: number; y: number }[]) => p.map((q) => [round(q.x), round(q.y)]);
const blank = (width: number, height: number) => ({ data: new Uint8Array(width * height * 3), width, height });

describe('SCRFD decoding', () => {
  it('anchor centres, distances × stride, keypoints × stride; outputs matched by shape in any order', () => {
    const faces = decodeScrfd([...scrfd].reverse(), 64, 64, 0.5);
    expect(faces.map((f) => round(f.score))).toEqual([0.9, 0.8, 0.7]);
    // A: (16 − 8, 8 − 8) to (16 + 16, 8 + 16)
    expect(faces[0]!.box).toEqual({ x: 8, y: 0, width: 24, height: 24 });
    expect(pts(faces[0]!.points)).toEqual([[16, 12], [24, 12], [20, 16], [16, 20], [24, 20]]);
    // B: (48 ± 8, 32 ± 8); keypoints 48 + 16·k, 32 + 16·k
    expect(faces[2]!.box).toEqual({ x: 40, y: 24, width: 16, height: 16 });
    expect(pts(faces[2]!.points)).toEqual([[44, 30.4], [52, 30.4], [48, 32], [44.8, 35.2], [51.2, 35.2]]);
  });

  it('through onnxruntime: NMS drops the duplicate, faces come back in image pixels (a 128×64 photo is scaled by 0.5)', async () => {
    const session = await createSession(constantOutputsOnnx([1, 3, 64, 64], scrfd));
    const detector = new OnnxFaceDetector(session, { id: 'syn', family: 'scrfd', inputWidth: 64, inputHeight: 64 }, 'syn:x');
    const faces = await detector.detect(blank(128, 64));
    expect(faces).toHaveLength(2);
    expect(faces[0]!.box).toEqual({ x: 16, y: 0, width: 48, height: 48 });
    expect(pts(faces[0]!.landmarks)).toEqual([[32, 24], [48, 24], [40, 32], [32, 40], [48, 40]]);
    expect(round(faces[0]!.score)).toBe(0.9);
    expect(faces[1]!.box).toEqual({ x: 80, y: 48, width: 32, height: 32 });
    // A lower threshold lets C through the decoder, but its five keypoints coincide (all zero offsets):
    // nothing to align with, so it is dropped rather than failing later in alignment.
    expect((await detector.detect(blank(128, 64), { minScore: 0.2 })).map((f) => round(f.score))).toEqual([0.9, 0.7]);
    const cWithPoints = { ...C, kps: A.kps };
    const session2 = await createSession(constantOutputsOnnx([1, 3, 64, 64], scrfdOutputs(64, [A, cWithPoints])));
    const withC = new OnnxFaceDetector(session2, { id: 'syn', family: 'scrfd', inputWidth: 64, inputHeight: 64 }, 'syn:y');
    expect((await withC.detect(blank(128, 64), { minScore: 0.2 })).map((f) => round(f.score))).toEqual([0.3, 0.9]); // C's box is the largest
  });

  it('an input size the strides do not divide (600): maps of ceil(600 / s) cells a side, as padded convolutions give', () => {
    // Stride 16: 38 columns. Anchor 2·(38·3 + 5) = 238 → cell 119 → row 3, column 5 → centre (80, 48).
    const faces = decodeScrfd(scrfdOutputs(600, [{ ...B, anchor: 238 }]), 600, 600, 0.5);
    expect(faces.map((f) => f.box)).toEqual([{ x: 72, y: 40, width: 16, height: 16 }]);
  });

  it('a NaN score is no face', () => {
    expect(decodeScrfd(scrfdOutputs(64, [{ ...A, score: Number.NaN }]), 64, 64, 0.5)).toEqual([]);
    const nan = yolo5FaceOutput([[32, 24, 20, 24, Number.NaN, 26, 20, 38, 20, 32, 26, 27, 31, 37, 31, 0.9]]);
    expect(decodeYolo5Face({ data: nan.data, dims: nan.dims }, 0.5)).toEqual([]);
  });

  it('outputs that do not fit the input size are a model error (exit 13), not a crash', async () => {
    const session = await createSession(constantOutputsOnnx([1, 3, 64, 64], scrfdOutputs(32, [A])));
    const detector = new OnnxFaceDetector(session, { id: 'wrong', family: 'scrfd', inputWidth: 64, inputHeight: 64 }, 'wrong:x');
    await expect(detector.detect(blank(64, 64))).rejects.toMatchObject({ code: ExitCode.MODEL_ERROR, message: expect.stringMatching(/^model wrong cannot run: no outputs for stride 8/) });
  });
});

describe('YOLOv5-face decoding', () => {
  const rows = [
    [32, 24, 20, 24, 0.9, 26, 20, 38, 20, 32, 26, 27, 31, 37, 31, 0.9], // score 0.81, box (22, 12) 20×24
    [33, 24, 20, 24, 0.8, 27, 20, 39, 20, 33, 26, 28, 31, 38, 31, 0.9], // 0.72, overlaps the first: suppressed
    [10, 10, 8, 8, 0.9, 8, 9, 12, 9, 10, 10, 8, 12, 12, 12, 0.4], // 0.36 < 0.5
    [10, 50, 8, 8, 0.7, 8, 49, 12, 49, 10, 50, 8, 52, 12, 52, 1], // 0.7, box (6, 46) 8×8
  ];
  it('score = objectness × class; centre/size → corners; landmark pairs as given', () => {
    const out = yolo5FaceOutput(rows);
    const faces = decodeYolo5Face({ data: out.data, dims: out.dims }, 0.5);
    expect(faces.map((f) => round(f.score))).toEqual([0.81, 0.72, 0.7]);
    expect(faces[0]!.box).toEqual({ x: 22, y: 12, width: 20, height: 24 });
    expect(pts(faces[0]!.points)).toEqual([[26, 20], [38, 20], [32, 26], [27, 31], [37, 31]]);
  });

  it('through onnxruntime on a 64×128 photo (scale 0.5): two faces after NMS, in image pixels', async () => {
    const session = await createSession(constantOutputsOnnx([1, 3, 64, 64], [yolo5FaceOutput(rows)]));
    const detector = new OnnxFaceDetector(session, { id: 'yolo', family: 'yolov5-face', inputWidth: 64, inputHeight: 64 }, 'yolo:x');
    const faces = await detector.detect(blank(64, 128));
    expect(faces.map((f) => f.box)).toEqual([{ x: 44, y: 24, width: 40, height: 48 }, { x: 12, y: 92, width: 16, height: 16 }]);
    expect(pts(faces[1]!.landmarks)).toEqual([[16, 98], [24, 98], [20, 100], [16, 104], [24, 104]]);
  });

  it('a box that is not finite or not positive is no face (a NaN box made enroll an internal error; a negative one was stored)', async () => {
    const bad = [
      [Number.NaN, 24, 20, 24, 0.9, 26, 20, 38, 20, 32, 26, 27, 31, 37, 31, 0.9],
      [32, 24, Infinity, Infinity, 0.9, 26, 20, 38, 20, 32, 26, 27, 31, 37, 31, 0.9],
      [32, 24, -20, 24, 0.9, 26, 20, 38, 20, 32, 26, 27, 31, 37, 31, 0.9],
      rows[3]!,
    ];
    const session = await createSession(constantOutputsOnnx([1, 3, 64, 64], [yolo5FaceOutput(bad)]));
    const detector = new OnnxFaceDetector(session, { id: 'yolo', family: 'yolov5-face', inputWidth: 64, inputHeight: 64 }, 'yolo:bad');
    expect((await detector.detect(blank(64, 64))).map((f) => f.box)).toEqual([{ x: 6, y: 46, width: 8, height: 8 }]);
  });

  it(`NMS looks at the ${PRE_NMS_TOP_K} best candidates only (a model giving 10⁶ boxes kept detect busy for minutes)`, async () => {
    // Disjoint 2-pixel boxes, scores rising with the row: only the best PRE_NMS_TOP_K survive, none suppressed.
    const n = PRE_NMS_TOP_K + 3000;
    const many = Array.from({ length: n }, (_, i) => {
      const [cx, cy] = [2 + (i % 100) * 3, 2 + Math.floor(i / 100) * 3];
      return [cx, cy, 2, 2, 0.5 + (0.5 * i) / n, cx - 0.5, cy - 0.5, cx + 0.5, cy - 0.5, cx, cy, cx - 0.5, cy + 0.5, cx + 0.5, cy + 0.5, 1];
    });
    const session = await createSession(constantOutputsOnnx([1, 3, 64, 64], [yolo5FaceOutput(many, n)]));
    const detector = new OnnxFaceDetector(session, { id: 'yolo', family: 'yolov5-face', inputWidth: 64, inputHeight: 64 }, 'yolo:many');
    const faces = await detector.detect(blank(64, 64), { maxFaces: n });
    expect(faces).toHaveLength(PRE_NMS_TOP_K);
    expect(Math.min(...faces.map((f) => f.score))).toBeGreaterThan(0.5 + (0.5 * (n - PRE_NMS_TOP_K - 1)) / n);
  });
});

describe('model router (models add)', () => {
  const file = (name: string, bytes: Uint8Array) => ({ name, bytes });
  const inspect = (f: { name: string; bytes: Uint8Array }) => inspectOnnx(f.bytes, f.name);

  it('recognises SCRFD (9 outputs) and YOLOv5-face ([1, N, 16]); dynamic input sizes default to 640', async () => {
    expect(await inspect(file('scrfd.onnx', constantOutputsOnnx([1, 3, 64, 64], scrfd)))).toEqual({ kind: 'detector', family: 'scrfd', inputWidth: 64, inputHeight: 64 });
    expect(await inspect(file('scrfd-dyn.onnx', constantOutputsOnnx(['N', 3, 'H', 'W'], scrfd)))).toEqual({ kind: 'detector', family: 'scrfd', inputWidth: 640, inputHeight: 640 });
    expect(await inspect(file('yolo.onnx', constantOutputsOnnx([1, 3, 320, 480], [yolo5FaceOutput([])])))).toEqual({ kind: 'detector', family: 'yolov5-face', inputWidth: 480, inputHeight: 320 });
    expect(await inspect(file('emb.onnx', buildToyEmbedderOnnx({ dim: 64 })))).toMatchObject({ kind: 'embedder', inputSize: 112 });
  });

  it('SCRFD with 1-D score outputs (one score per anchor), which the decoder reads, is recognised too', async () => {
    const flat = scrfd.map((o) => (o.dims[1] === 1 ? { ...o, dims: [o.dims[0]!] } : o));
    expect(await inspect(file('scrfd-1d.onnx', constantOutputsOnnx([1, 3, 64, 64], flat)))).toEqual({ kind: 'detector', family: 'scrfd', inputWidth: 64, inputHeight: 64 });
  });

  it('models add decodes a trial run: an SCRFD file whose outputs fit no grid of its input is refused then (exit 13), not at every detect', async () => {
    const saved = process.env.FACECTL_USER_MODELS_DIR;
    process.env.FACECTL_USER_MODELS_DIR = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-detectors-'));
    try {
      const dir = process.env.FACECTL_USER_MODELS_DIR;
      const mismatch = path.join(dir, 'mismatch.onnx');
      writeFileSync(mismatch, constantOutputsOnnx([1, 3, 64, 64], scrfdOutputs(32, [A])));
      await expect(addUserModel(mismatch)).rejects.toMatchObject({
        code: ExitCode.MODEL_ERROR,
        message: 'its outputs cannot be decoded as scrfd: no outputs for stride 8 of a 64×64 input',
      });
      expect(await listUserDetectors()).toEqual([]);
      const good = path.join(dir, 'good.onnx');
      writeFileSync(good, constantOutputsOnnx([1, 3, 600, 600], scrfdOutputs(600, [A])));
      expect(await addUserModel(good)).toMatchObject({ id: 'good', family: 'scrfd', inputWidth: 600 });
    } finally {
      if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
      else process.env.FACECTL_USER_MODELS_DIR = saved;
    }
  });

  it('refuses with a reason (exit 13): SCRFD without keypoints, other multi-output graphs', async () => {
    await expect(inspect(file('scrfd6.onnx', constantOutputsOnnx([1, 3, 64, 64], scrfdOutputs(64, [A], false))))).rejects.toMatchObject({
      code: ExitCode.MODEL_ERROR,
      message: expect.stringContaining('without keypoints'),
    });
    const two = [{ name: 'a', dims: [1, 7], data: new Float32Array(7) }, { name: 'b', dims: [1, 3], data: new Float32Array(3) }];
    await expect(inspect(file('two.onnx', constantOutputsOnnx([1, 3, 64, 64], two)))).rejects.toMatchObject({
      code: ExitCode.MODEL_ERROR,
      message: expect.stringContaining('not an embedder'),
    });
  });
});
