/**
 * TFLite exporters spell PReLU out op by op; both spellings found in the npm models are folded back
 * into one PReLU here, before translation (onnxruntime then runs one op instead of four or five):
 *
 * - MobileFaceNet: `relu(x) + a · (x − |x|)`  → PReLU(x, 2a)   (for x < 0: a · 2x)
 * - MTCNN:         `relu(x) + a · −relu(−x)` → PReLU(x, a)    (for x < 0: a · x)
 *
 * Both are exact: 2a is exact in float, and a · (2x) = (2a) · x bit for bit. The intermediate values
 * must have no other consumer, else the pattern is left as it is.
 */
import { TfliteOp, type TfliteModel, type TfliteOperator } from './schema.js';

export function fuseTflitePatterns(model: TfliteModel): TfliteOperator[] {
  const ops = model.operators;
  const producer = new Map<number, TfliteOperator>();
  const uses = new Map<number, number>();
  for (const op of ops) {
    for (const o of op.outputs) producer.set(o, op);
    for (const i of op.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of model.outputs) uses.set(o, (uses.get(o) ?? 0) + 1);
  const isConst = (t: number) => model.tensors[t]?.data !== undefined || producer.get(t)?.op === TfliteOp.DEQUANTIZE;
  /** The op producing `t` when it is `code` with default options and `t` is used once. */
  const sole = (t: number, code: number): TfliteOperator | undefined => {
    const p = producer.get(t);
    return p && p.op === code && uses.get(t) === 1 && !(p.options?.i8(0) ?? 0) ? p : undefined;
  };
  const removed = new Set<TfliteOperator>();
  const replaced = new Map<TfliteOperator, TfliteOperator>();
  /** Splits MUL(a, b) into [constant slope tensor, other input]. */
  const slopeAndValue = (mul: TfliteOperator): [number, number] | undefined => {
    const [p, q] = mul.inputs as [number, number];
    return isConst(p) ? [p, q] : isConst(q) ? [q, p] : undefined;
  };

  for (const add of ops) {
    if (add.op !== TfliteOp.ADD || (add.options?.i8(0) ?? 0) !== 0) continue;
    for (const [reluT, mulT] of [add.inputs, [...add.inputs].reverse()] as [number, number][]) {
      const relu = sole(reluT, TfliteOp.RELU);
      const mul = sole(mulT, TfliteOp.MUL);
      const split = mul && slopeAndValue(mul);
      if (!relu || !split) continue;
      const x = relu.inputs[0]!;
      const [slope, negPart] = split;
      // MobileFaceNet: SUB(x, ABS(x))
      const sub = sole(negPart, TfliteOp.SUB);
      const abs = sub && sub.inputs[0] === x ? sole(sub.inputs[1]!, TfliteOp.ABS) : undefined;
      // MTCNN: NEG(RELU(NEG(x)))
      const neg1 = sole(negPart, TfliteOp.NEG);
      const reluNeg = neg1 && sole(neg1.inputs[0]!, TfliteOp.RELU);
      const neg0 = reluNeg && sole(reluNeg.inputs[0]!, TfliteOp.NEG);
      if (abs && abs.inputs[0] === x) {
        // uses of x: relu, abs, sub — x itself may have other consumers; the pattern's own ops must not.
        replaced.set(add, { op: TfliteOp.PRELU, inputs: [x, slope], outputs: add.outputs, slopeScale: 2 });
        for (const dead of [relu, mul, sub!, abs]) removed.add(dead);
      } else if (neg0 && neg0.inputs[0] === x) {
        replaced.set(add, { op: TfliteOp.PRELU, inputs: [x, slope], outputs: add.outputs });
        for (const dead of [relu, mul, neg1!, reluNeg!, neg0]) removed.add(dead);
      } else continue;
      break;
    }
  }
  return ops.filter((op) => !removed.has(op)).map((op) => replaced.get(op) ?? op);
}
