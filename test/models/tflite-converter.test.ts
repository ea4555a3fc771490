/**
 * The TFLite front end on files it must get right or refuse with a reason (tflite/convert.ts, ops.ts,
 * values.ts, schema.ts): small, fast, no datasets needed. The files are the committed fixtures of
 * fixtures/tflite (make-toy-models.py, TensorFlow's own converter), some damaged here byte by byte.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertTfliteModel, UnsupportedTfliteError } from '../../src/models/tflite/convert.js';
import { opName, readTfliteModel, TfliteOp } from '../../src/models/tflite/schema.js';
import { tfliteFixture, withShape } from './tflite-cases.js';

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
