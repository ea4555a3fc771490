/**
 * Whether an embedder graph normalises its input itself: mxnet-exported ArcFace models (the ONNX model
 * zoo's arcfaceresnet100, insightface's older packs) begin with a Sub and a Mul (`_minusscalar`,
 * `_mulscalar`), so they take raw 0..255 pixels; fed (x − 127.5) / 127.5 on top, they embed garbage
 * quietly. insightface's model router makes the same check on the first nodes.
 */
import { onnx } from './proto.js';

/** How many leading nodes to look at: the normalisation comes first, before any convolution. */
const LEADING_NODES = 8;

export function normalisesInputItself(bytes: Uint8Array): boolean {
  const nodes = onnx.ModelProto.decode(bytes).graph?.node ?? [];
  const ops = new Set(nodes.slice(0, LEADING_NODES).map((n) => n.opType));
  return ops.has('Sub') && (ops.has('Mul') || ops.has('Div'));
}
