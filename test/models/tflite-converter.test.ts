/**
 * The TFLite front end on files it must get right or refuse with a reason (tflite/convert.ts, ops.ts,
 * values.ts, schema.ts): small, fast, no datasets needed. The files are the committed fixtures of
 * fixtures/tflite, made by TensorFlow's own converter (make-toy-models.py; make-converter-cases.py, which
 * also stores what TensorFlow's TFLite interpreter gives on a fixed input), some damaged here byte by byte.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convertTfliteModel, UnsupportedTfliteError } from '../../src/models/tflite/convert.js';
import { opName, readTfliteModel, TfliteOp } from '../../src/models/tflite/schema.js';
import { maxRelativeError } from './compare.js';
import { createSession, runSession } from './session.js';
import { tfliteFixture, withShape } from './tflite-cases.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tflite');
const fixture = (name: string): string => path.join(fixtures, name);
const f32 = (b64: string): Float32Array => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

/** A fixture's input and what TensorFlow's TFLite interpreter gave for it (make-converter-cases.py). */
interface Reference {
  runs: { dims: number[]; input: string; outputs: Record<string, { dims: number[]; f32: string }> }[];
}
const reference = (name: string) => {
  const run = (JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Reference).runs[0]!;
  const [output, expected] = Object.entries(run.outputs)[0]!;
  return { dims: run.dims, input: f32(run.input), output, expected: f32(expected.f32) };
};
const readFixture = (name: Parameters<typeof tfliteFixture>[0]) => readTfliteModel(readFileSync(tfliteFixture(name)));

/** The UnsupportedTfliteError `convert` throws (a plain Error, or none, fails the test). */
function refusal(convert: () => unknown): string {
  try {
    convert();
  } catch (err) {
    expect(err).toBeInstanceOf(UnsupportedTfliteError);
    return (err as Error).message;
  }
  throw new Error('converted without a refusal');
}

describe('unsupported ops are named, not numbered', () => {
  it('every BuiltinOperator code of schema.fbs has its name', () => {
    expect(opName(77)).toBe('SHAPE');
    expect(opName(63)).toBe('LESS_EQUAL');
    expect(opName(0)).toBe('ADD');
    expect(opName(126)).toBe('BATCH_MATMUL');
    expect(opName(150)).toBe('GELU');
    expect(opName(209)).toBe('STABLEHLO_CASE');
    for (const [name, code] of Object.entries(TfliteOp)) expect(opName(code)).toBe(name);
    expect(opName(9999)).toBe('builtin op 9999'); // newer than the table
  });

  it('a file with an op the converter does not map is refused naming that op', () => {
    const model = readTfliteModel(readFileSync(tfliteFixture('unsupported-op')));
    const tanh = model.operators.find((o) => o.op === 28)!;
    tanh.op = 77; // SHAPE, which the old table did not name
    expect(refusal(() => convertTfliteModel(model, { graphName: 'm' }))).toBe('op SHAPE is not supported');
  });
});

describe('a damaged shape field is refused before any loop runs over it', () => {
  const toy = readFileSync(tfliteFixture('toy-embedder'));
  const convert = (bytes: Uint8Array) => convertTfliteModel(readTfliteModel(bytes), { graphName: 'm' });

  it('the undamaged file converts', () => {
    expect(convert(toy).outputs[0]!.shape).toEqual([-1, 64]);
  });

  it.each([
    ['conv filter, a dimension too large', [8, 5, 5, 3], [8, 5, 5, 3000], /^constant functional_1\/conv2d_1\/convolution has shape \[8, 5, 5, 3000\] \(600000 values of 4 bytes\) but holds 2400 bytes: the file is damaged$/],
    ['conv filter, a negative dimension', [8, 5, 5, 3], [8, -5, 5, 3], /^constant functional_1\/conv2d_1\/convolution has shape \[8, -5, 5, 3\], with a negative dimension: the file is damaged$/],
    ['depthwise filter', [1, 3, 3, 8], [1, 3, 3, 800], /^constant functional_1\/depthwise_conv2d_1\/depthwise has shape \[1, 3, 3, 800\] .* but holds 288 bytes/],
    ['dense weights, a dimension of 2^30', [64, 16], [64, 2 ** 30], /^constant functional_1\/dense_1\/MatMul1 has shape \[64, 1073741824\] .* but holds 4096 bytes/],
  ])('%s', (_, from, to, message) => {
    expect(refusal(() => convert(withShape(toy, from, to)))).toMatch(message);
  });
});

describe('grouped CONV_2D (Keras Conv2D(groups=g))', () => {
  it('is converted with group = input channels / filter input channels, and equals the TFLite interpreter', async () => {
    const ref = reference('grouped-conv'); // Conv2D(groups=2) on 4 channels, then Conv2D(groups=3) on 6
    const converted = convertTfliteModel(readFixture('grouped-conv'), { graphName: 'grouped' });
    const session = await createSession(converted.bytes);
    const got = Object.values(await runSession(session, ref.input, ref.dims))[0]!;
    expect(maxRelativeError(got, ref.expected)).toBeLessThanOrEqual(1e-5);
    // The batch is dynamic: two copies give the reference twice.
    const twice = Object.values(await runSession(session, Float32Array.from([...ref.input, ...ref.input]), [2, ...ref.dims.slice(1)]))[0]!;
    expect(maxRelativeError(twice, Float32Array.from([...ref.expected, ...ref.expected]))).toBeLessThanOrEqual(1e-5);
  });

  it('a filter whose input channels do not divide the input is refused with the reason', () => {
    const model = readFixture('grouped-conv');
    model.tensors.find((t) => t.name === 'convolution1')!.shape = [6, 3, 2, 3]; // the first filter's 108 weights, read as 3 channels of the input's 4
    expect(refusal(() => convertTfliteModel(model, { graphName: 'm' }))).toMatch(/^CONV_2D → .*: filter reads 3 input channels, which do not divide the input's 4$/);
  });
});

describe('outputs that are not float32', () => {
  it('an int32 output is refused at conversion, naming it and its type', () => {
    // CAST(mean > 0, int32): the ONNX graph would declare float32 and onnxruntime refuse it when loaded
    expect(refusal(() => convertTfliteModel(readFixture('int32-output'), { graphName: 'm' }))).toBe('output PartitionedCall_1:0 is int32, not float32');
  });

  it('a bool output too', () => {
    const model = readFixture('int32-output');
    model.operators.pop(); // without the CAST, the output is GREATER's bool
    model.outputs = model.operators.at(-1)!.outputs;
    expect(refusal(() => convertTfliteModel(model, { graphName: 'm' }))).toBe('output functional_1_1/lambda_1/Greater is bool, not float32');
  });
});

describe('a tensor name the file repeats (TFLite does not require unique names)', () => {
  // duplicate-name.tflite: Dense(16) → L2_NORMALIZATION, the Dense output given the graph output's name
  const ref = reference('duplicate-name');
  const run = async (outputs?: { tflite: string; name: string }[]) => {
    const converted = convertTfliteModel(readFixture('duplicate-name'), { graphName: 'm', outputs });
    return Object.values(await runSession(await createSession(converted.bytes), ref.input, ref.dims))[0]!;
  };

  it("the file's output is taken by index: the normalised vector TFLite gives, not the Dense output of the same name", async () => {
    expect(maxRelativeError(await run(), ref.expected)).toBeLessThanOrEqual(1e-5);
  });

  it('an output asked for by that name is the graph output of that name', async () => {
    expect(maxRelativeError(await run([{ tflite: ref.output, name: 'embedding' }]), ref.expected)).toBeLessThanOrEqual(1e-5);
  });

  it('a name several tensors share, none of them an output, is refused; a name one tensor has still works', () => {
    const model = readFixture('toy-embedder');
    expect(convertTfliteModel(model, { graphName: 'm', outputs: [{ tflite: 'functional_1/dense_1/MatMul2', name: 'dense' }] }).outputs).toEqual([{ name: 'dense', shape: [-1, 64] }]);
    for (const i of [9, 11]) model.tensors[i]!.name = 'features'; // the first conv's and the depthwise conv's outputs
    expect(refusal(() => convertTfliteModel(model, { graphName: 'm', outputs: [{ tflite: 'features', name: 'f' }] }))).toBe('2 tensors are named features: which one is meant is ambiguous');
  });

  it('two file outputs of the same name are refused (ONNX names must differ), not an internal error', () => {
    const model = readFixture('duplicate-name');
    model.outputs = [3, 4]; // the Dense output and the normalised one, both named StatefulPartitionedCall_1:0
    expect(refusal(() => convertTfliteModel(model, { graphName: 'm' }))).toBe(`two outputs are named ${ref.output}`);
  });
});
