/**
 * Tensors of an ONNX file whose values are in an external data file (TensorProto data_location EXTERNAL,
 * external_data {location, offset, length}). facectl creates its sessions from the file's bytes, and
 * onnxruntime then resolves such a location against the process's WORKING DIRECTORY: run from $HOME, a
 * model naming `.ssh/id_rsa` read that key as weights, and the embeddings made from it went into the
 * store (the registered copy is pinned by its sha256, the external file never was). facectl keeps one
 * self-contained file per model, so any such tensor is refused, wherever ONNX lets one be: the graph's
 * initializers and sparse initializers, tensor attributes of any node (Constant's value, sparse_value,
 * tensors), subgraphs (If/Loop/Scan's g and graphs), local functions (their nodes and attribute
 * defaults) and training graphs.
 *
 * The protobuf wire format is walked here rather than decoded with onnx-proto: only these fields are
 * visited and every other one (raw weights included) is skipped by its length, so the check costs next to
 * nothing on a file that is read anyway, even at every use; and it needs no schema, so fields onnx-proto
 * 8 does not know (FunctionProto.attribute_proto, ONNX IR 9) are seen too. Every occurrence of a field is
 * visited, as protobuf merges repeated occurrences of a message field.
 */

/** A tensor stored outside the file: what it is in the model ("initializer W") and the file it names. */
interface ExternalTensor {
  what: string;
  location: string;
}

const WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_START_GROUP = 3, WIRE_END_GROUP = 4, WIRE_FIXED32 = 5;
/** TensorProto.DataLocation.EXTERNAL */
const EXTERNAL = 1;
/**
 * Subgraphs nest (an If in a Loop in a Scan): deeper than this is refused rather than walked (protobuf's
 * own limit of 100 nested messages, three per subgraph, stops onnxruntime well before).
 */
const MAX_DEPTH = 64;
const MAX_GROUP_DEPTH = 100;

class Malformed extends Error {}
class TooDeep extends Error {}
class TooMany extends Error {}

/**
 * Fields one check may visit. The models facectl knows visit 400 to 9,400 (fr_expression.onnx); a
 * 48 MB file of empty attributes made the walk take a minute. Past this, the file is refused (fail closed).
 */
const MAX_FIELDS = 500_000;
let fieldsLeft = MAX_FIELDS;

interface Field {
  no: number;
  wire: number;
  /** Varint value, its low 32 bits as protobuf gives an int32 or enum field (data_location 1 + 2^32 is EXTERNAL to it). */
  value: number;
  /** Length-delimited payload. */
  bytes: Uint8Array;
}

/** The fields of one message, in order; throws Malformed where the bytes are no protobuf message. */
function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  /**
   * A varint as protobuf reads it: at most 10 bytes. `low32`: the low 32 bits exactly (what an int32, an enum,
   * a tag or a length is to protobuf's C++ parser, which drops the rest); else the whole value, which is only
   * compared with the file's length (beyond 2^53 it is larger than any file).
   */
  const varint = (low32 = false): number => {
    let result = 0, low = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Malformed();
      const b = buf[pos++]!;
      result += (b & 0x7f) * scale;
      if (i < 5) low += (b & 0x7f) * scale; // bits 0–34: exact in a double
      if (b < 0x80) return low32 ? low % 2 ** 32 : result;
      scale *= 128;
    }
    throw new Malformed();
  };
  /**
   * A tag as protobuf reads it: a 32-bit varint of at most 5 bytes, the bits past 32 dropped. Read as a
   * longer number, `BA 80 80 80 10` was an unknown field 536870919 here and field 7 (ModelProto.graph) to
   * onnxruntime: a graph with external weights went unseen.
   */
  const tag = (): [no: number, wire: number] => {
    const start = pos;
    const t = varint(true);
    if (pos - start > 5) throw new Malformed();
    const no = Math.floor(t / 8), wire = t % 8;
    if (no === 0 || wire > WIRE_FIXED32) throw new Malformed();
    return [no, wire];
  };
  /** Skips one value; a group (deprecated, but protobuf still parses it as an unknown field) up to its end. */
  const skip = (no: number, wire: number, groups: number): void => {
    if (wire === WIRE_VARINT) varint();
    else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) pos += wire === WIRE_FIXED64 ? 8 : 4;
    else if (wire === WIRE_BYTES) pos += varint();
    else if (wire === WIRE_START_GROUP) {
      if (groups > MAX_GROUP_DEPTH) throw new Malformed();
      for (;;) {
        const [n, w] = tag();
        if (w === WIRE_END_GROUP) {
          if (n !== no) throw new Malformed();
          break;
        }
        skip(n, w, groups + 1);
      }
    } else throw new Malformed(); // an end of group that none started
    if (pos > buf.length) throw new Malformed();
  };
  const empty = new Uint8Array(0);
  while (pos < buf.length) {
    if (--fieldsLeft < 0) throw new TooMany();
    const [no, wire] = tag();
    if (wire === WIRE_VARINT) yield { no, wire, value: varint(true), bytes: empty };
    else if (wire === WIRE_BYTES) {
      const length = varint();
      if (pos + length > buf.length) throw new Malformed();
      yield { no, wire, value: 0, bytes: buf.subarray(pos, pos + length) };
      pos += length;
    } else skip(no, wire, 0);
  }
}

/** Length-delimited fields numbered `no` of a message, as they come (no list of every field is built: a file of 48 MB of empty fields ran out of memory). */
function* messages(buf: Uint8Array, no: number): Generator<Uint8Array> {
  for (const f of fields(buf)) if (f.no === no && f.wire === WIRE_BYTES) yield f.bytes;
}
/** A string field: its last occurrence, as protobuf keeps. */
const text = (buf: Uint8Array, no: number): string => {
  let last: Uint8Array | undefined;
  for (const m of messages(buf, no)) last = m;
  return last ? new TextDecoder().decode(last) : '';
};
const first = <T>(items: Iterable<T>): T | undefined => {
  for (const item of items) return item;
  return undefined;
};
const named = (name: string): string => (name ? `"${name}"` : '(unnamed)');

// Field numbers of onnx.proto.
const Model = { graph: 7, trainingInfo: 20, functions: 25 };
const TrainingInfo = { initialization: 1, algorithm: 2 };
const Graph = { node: 1, initializer: 5, sparseInitializer: 15 };
const Node = { output: 2, name: 3, opType: 4, attribute: 5 };
const Func = { name: 1, node: 7, attributeProto: 11 };
const Attribute = { name: 1, t: 5, g: 6, tensors: 10, graphs: 11, sparseTensor: 22, sparseTensors: 23 };
const SparseTensor = { values: 1, indices: 2 };
const Tensor = { name: 8, externalData: 13, dataLocation: 14 };
const Entry = { key: 1, value: 2 };

/** The external file a TensorProto names, or undefined when its values are in the model. */
function externalLocation(tensor: Uint8Array): string | undefined {
  let external = false, location: string | undefined;
  for (const f of fields(tensor)) {
    if (f.no === Tensor.dataLocation && f.wire === WIRE_VARINT && f.value === EXTERNAL) external = true;
    if (f.no === Tensor.externalData && f.wire === WIRE_BYTES) {
      // Any external_data entry counts, whatever data_location says: protobuf merges a tensor given twice.
      external = true;
      if (text(f.bytes, Entry.key) === 'location') location = text(f.bytes, Entry.value);
    }
  }
  return external ? (location ?? '(no location given)') : undefined;
}

class Walk {
  found: ExternalTensor | undefined;
  /** The first Loop node met (see externalDataProblem). */
  loop: string | undefined;

  tensor(bytes: Uint8Array, what: (name: string) => string): void {
    if (this.found) return;
    const location = externalLocation(bytes);
    if (location !== undefined) this.found = { what: what(text(bytes, Tensor.name)), location };
  }

  sparse(bytes: Uint8Array, what: (name: string) => string): void {
    for (const no of [SparseTensor.values, SparseTensor.indices]) for (const t of messages(bytes, no)) this.tensor(t, what);
  }

  graph(bytes: Uint8Array, depth: number): void {
    if (depth > MAX_DEPTH) throw new TooDeep();
    for (const f of fields(bytes)) {
      if (this.found) return;
      if (f.wire !== WIRE_BYTES) continue;
      if (f.no === Graph.initializer) this.tensor(f.bytes, (n) => `initializer ${named(n)}`);
      else if (f.no === Graph.sparseInitializer) this.sparse(f.bytes, (n) => `sparse initializer ${named(n)}`);
      else if (f.no === Graph.node) this.node(f.bytes, depth);
    }
  }

  node(bytes: Uint8Array, depth: number): void {
    const label = () => {
      const output = first(messages(bytes, Node.output));
      const name = text(bytes, Node.name) || (output ? new TextDecoder().decode(output) : '');
      return `${text(bytes, Node.opType) || 'node'} ${named(name)}`;
    };
    if (!this.loop && text(bytes, Node.opType) === 'Loop') this.loop = label();
    for (const a of messages(bytes, Node.attribute)) this.attribute(a, depth, label);
  }

  attribute(bytes: Uint8Array, depth: number, owner: () => string): void {
    const what = (n: string) => `tensor ${n ? `${named(n)} ` : ''}in attribute ${text(bytes, Attribute.name)} of ${owner()}`;
    for (const f of fields(bytes)) {
      if (this.found) return;
      if (f.wire !== WIRE_BYTES) continue;
      if (f.no === Attribute.t || f.no === Attribute.tensors) this.tensor(f.bytes, what);
      else if (f.no === Attribute.sparseTensor || f.no === Attribute.sparseTensors) this.sparse(f.bytes, what);
      else if (f.no === Attribute.g || f.no === Attribute.graphs) this.graph(f.bytes, depth + 1);
    }
  }

  func(bytes: Uint8Array, depth: number): void {
    const label = () => `function ${named(text(bytes, Func.name))}`;
    for (const f of fields(bytes)) {
      if (this.found) return;
      if (f.wire !== WIRE_BYTES) continue;
      if (f.no === Func.node) this.node(f.bytes, depth + 1);
      else if (f.no === Func.attributeProto) this.attribute(f.bytes, depth + 1, label);
    }
  }
}

/**
 * Why an ONNX model (its serialised ModelProto) cannot be used as it is: the first tensor whose values are
 * in an external file, else its first Loop node, in one line; undefined when there is none. Bytes this walk cannot read as protobuf
 * are refused too (fail closed): any way the walk and protobuf's parser could read a file differently would
 * otherwise be a way past the check, and onnxruntime refuses a truly malformed file anyway.
 */
export function externalDataProblem(model: Uint8Array): string | undefined {
  const walk = new Walk();
  fieldsLeft = MAX_FIELDS;
  try {
    for (const f of fields(model)) {
      if (walk.found) break;
      if (f.wire !== WIRE_BYTES) continue;
      if (f.no === Model.graph) walk.graph(f.bytes, 0);
      else if (f.no === Model.functions) walk.func(f.bytes, 0);
      else if (f.no === Model.trainingInfo) for (const no of [TrainingInfo.initialization, TrainingInfo.algorithm]) for (const g of messages(f.bytes, no)) walk.graph(g, 0);
    }
  } catch (err) {
    if (err instanceof TooDeep) return `subgraphs (If, Loop, Scan) nested more than ${MAX_DEPTH} deep: not checked for weights in external data files, not supported`;
    if (err instanceof TooMany) return `more than ${MAX_FIELDS.toLocaleString('en-US')} protobuf fields outside the weights (face models have thousands): not checked for weights in external data files, not supported`;
    if (err instanceof Malformed) return 'not an ONNX model this check can read (its protobuf encoding is malformed), so not checked for weights in external data files';
    throw err;
  }
  const t = walk.found;
  if (t) return `weights in external data files are not supported: ${t.what} is stored in ${t.location}; save the model with its weights inside the .onnx`;
  // A Loop may run for ever (a trip count of 1e12, or one that depends on the photo), and onnxruntime-node
  // cannot stop a run once it has started: `models add` or a later `verify` hung. Face models have none.
  if (walk.loop) return `a Loop node (${walk.loop}) may run without end, and a model run cannot be stopped: face models have none, not supported`;
  return undefined;
}
