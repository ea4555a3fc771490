/**
 * TensorFlow Lite model (.tflite) → ONNX. Reads the flatbuffer (schema.ts), folds constants
 * (DEQUANTIZE of float16/int8 weights happens here, once), rewrites the PReLU patterns TFLite exporters
 * spell out op by op (fusions.ts), translates each op (ops.ts) and makes the batch dimension dynamic —
 * and, for fully convolutional models such as MTCNN's P-Net, the spatial dimensions too.
 */
import { readFileSync } from 'node:fs';
import { OnnxGraphBuilder, type Dim } from '../onnx/graph-builder.js';
import type { Value } from '../onnx/nhwc-layers.js';
import { fuseTflitePatterns } from './fusions.js';
import { OP_HANDLERS } from './ops.js';
import { opName, readTfliteModel, TensorType, tensorTypeName, type TfliteModel, type TfliteTensor } from './schema.js';
import { constOf, materialise, UnsupportedTfliteError, type TValue } from './values.js';

export { UnsupportedTfliteError } from './values.js';

export interface TfliteConvertOptions {
  graphName: string;
  /** ONNX name of the single input (default: the file's input name). */
  inputName?: string;
  /**
   * Outputs to expose, in order, with their ONNX names (default: the file's outputs, by index, under their
   * own names). `tflite` names the file's output of that name, else the one tensor of that name.
   */
  outputs?: { tflite: string; name: string }[];
  /** Leave height and width dynamic too (fully convolutional models: MTCNN P-Net). */
  dynamicSpatial?: boolean;
  /** Keep PReLU spelled out as the file has it instead of folding it into one PRelu (tests compare both). */
  keepPreluPatterns?: boolean;
  /** Stored in the ONNX file (provenance). */
  docString?: string;
}

export interface ConvertedTflite {
  bytes: Uint8Array;
  input: Value;
  outputs: Value[];
  nodeCount: number;
}

const toDims = (shape: readonly number[], spatial: boolean): Dim[] =>
  shape.map((d, i) => (d !== -1 ? d : i === 0 ? 'N' : spatial && i === 1 ? 'H' : spatial && i === 2 ? 'W' : `d${i}`));

const fail = (why: string): never => {
  throw new UnsupportedTfliteError(why);
};

/**
 * The tensors to expose as outputs, with their ONNX names. TFLite does not require tensor names to be
 * unique (the interpreter finds inputs and outputs by index), so a name may belong to several tensors:
 * the file's outputs are taken by index; an output asked for by name is the file's output of that name
 * if there is one, else the one tensor of that name, and a name shared by several is refused rather than
 * guessed. The ONNX graph is declared float32 and read as float32 (embeddings, scores, boxes): an int32 or
 * bool output would only fail later, inside onnxruntime, about a graph the user never wrote.
 */
function outputTensors(model: TfliteModel, wanted: TfliteConvertOptions['outputs']): { tensor: TfliteTensor; name: string }[] {
  const graphOutputs = model.outputs.map((i) => model.tensors[i] ?? fail(`output ${i} refers to no tensor (the file has ${model.tensors.length})`));
  const chosen = wanted
    ? wanted.map(({ tflite, name }) => {
        const outputs = graphOutputs.filter((t) => t.name === tflite);
        const candidates = outputs.length ? outputs : model.tensors.filter((t) => t.name === tflite);
        if (candidates.length === 0) fail(`no tensor named ${tflite}`);
        if (candidates.length > 1) fail(`${candidates.length} ${outputs.length ? 'outputs' : 'tensors'} are named ${tflite}: which one is meant is ambiguous`);
        return { tensor: candidates[0]!, name };
      })
    : graphOutputs.map((t) => ({ tensor: t, name: t.name }));
  const names = chosen.map((c) => c.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) fail(`two outputs are named ${repeated}`);
  for (const { tensor } of chosen)
    if (tensor.type !== TensorType.FLOAT32) fail(`output ${tensor.name} is ${tensorTypeName(tensor.type)}, not float32`);
  return chosen;
}

export function convertTfliteModel(model: TfliteModel, options: TfliteConvertOptions): ConvertedTflite {
  // The input is taken by index, as the interpreter does, never by name.
  if (model.inputs.length !== 1) throw new UnsupportedTfliteError(`expected one input, the model has ${model.inputs.length}`);
  const inputTensor = model.tensors[model.inputs[0]!] ?? fail(`input ${model.inputs[0]} refers to no tensor (the file has ${model.tensors.length})`);
  if (inputTensor.type !== TensorType.FLOAT32) throw new UnsupportedTfliteError(`input ${inputTensor.name} is ${tensorTypeName(inputTensor.type)}, not float32`);
  const wanted = outputTensors(model, options.outputs);
  const b = new OnnxGraphBuilder(options.graphName, { docString: options.docString });
  const spatial = options.dynamicSpatial === true && inputTensor.shape.length === 4;
  const inputShape = inputTensor.shape.map((d, i) => (i === 0 || (spatial && (i === 1 || i === 2)) ? -1 : d));
  const inputName = b.addInput(options.inputName ?? inputTensor.name, toDims(inputShape, spatial));

  const values = new Map<number, TValue>([[inputTensor.index, { kind: 'tensor', name: inputName, shape: inputShape }]]);
  const valueOf = (index: number): TValue | undefined => {
    if (index < 0) return undefined;
    let v = values.get(index);
    if (!v) {
      const t = model.tensors[index]!;
      if (!t.data) throw new UnsupportedTfliteError(`tensor ${t.name} is used before it is computed`);
      v = constOf(t);
      values.set(index, v);
    }
    return v;
  };

  const operators = options.keepPreluPatterns ? model.operators : fuseTflitePatterns(model);
  for (const op of operators) {
    const handler = OP_HANDLERS[op.op];
    if (!handler) throw new UnsupportedTfliteError(`op ${opName(op.op)} is not supported`);
    if (op.outputs.length !== 1) throw new UnsupportedTfliteError(`op ${opName(op.op)} with ${op.outputs.length} outputs is not supported`);
    const out = model.tensors[op.outputs[0]!]!;
    const result = handler({
      b,
      op,
      inputs: op.inputs.map(valueOf),
      outputs: [out],
      inputTensors: op.inputs.map((i) => (i < 0 ? undefined : model.tensors[i])),
      name: `t/${out.name}`, // prefixed: the bare names stay free for the graph outputs
    });
    values.set(out.index, result);
  }

  const outputs = wanted.map(({ tensor: t, name }) => {
    const v = materialise(b, valueOf(t.index)!);
    b.exposeAs(v.name, name, toDims(v.shape, spatial));
    return { name, shape: v.shape };
  });
  return { bytes: b.toBytes(), input: { name: inputName, shape: inputShape }, outputs, nodeCount: b.nodeCount };
}

/** Reads and converts a .tflite file. */
export function convertTfliteFile(file: string, options: TfliteConvertOptions): ConvertedTflite {
  return convertTfliteModel(readTfliteModel(readFileSync(file)), options);
}
