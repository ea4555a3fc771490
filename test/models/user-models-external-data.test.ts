/**
 * An ONNX tensor whose values are in an external data file (data_location EXTERNAL, external_data
 * location) is refused at `models add` and at use (src/models/onnx/external-data.ts). An audit found it
 * accepted: sessions are made from the file's bytes, so onnxruntime read the external file from the
 * process's working directory; run from $HOME, a model naming `.ssh/id_rsa` took the key as weights, and
 * the registered copy was pinned by its sha256 while the file it read was not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { sha256 } from '../../src/models/file-record.js';
import { externalDataProblem } from '../../src/models/onnx/external-data.js';
import { onnx } from '../../src/models/onnx/proto.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { resolveEmbedder } from '../../src/models/resolve.js';
import { addUserModel } from '../../src/models/user-models.js';
import { CLI_ENTRY } from '../helpers/cli.js';
import { refusal } from '../helpers/refusal.js';
import { repoRoot } from '../helpers/shared.js';

type Tensor = InstanceType<typeof onnx.TensorProto>;
type Model = InstanceType<typeof onnx.ModelProto>;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-external-data-'));
/** The "home" the command runs in: a secret whose bytes are finite floats (text), so a model reading it runs. */
const home = path.join(tmp, 'home');
const SECRET = path.join(home, '.ssh', 'id_rsa');
mkdirSync(path.dirname(SECRET), { recursive: true });
writeFileSync(SECRET, 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC not your key, a test fixture\n'.repeat(400));

const saved = { dir: process.env.FACECTL_USER_MODELS_DIR, cwd: process.cwd() };
afterEach(() => process.chdir(saved.cwd));
afterAll(() => {
  process.chdir(saved.cwd);
  if (saved.dir === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved.dir;
});

/** `tensor` made external: its values removed, data_location EXTERNAL, external_data naming `location`. */
function makeExternal(tensor: Tensor, location: string, bytes = tensor.rawData?.length ?? 16): Tensor {
  tensor.rawData = new Uint8Array(0);
  tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  tensor.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: location }), onnx.StringStringEntryProto.create({ key: 'offset', value: '0' }), onnx.StringStringEntryProto.create({ key: 'length', value: String(bytes) })];
  return tensor;
}

const externalTensor = (name: string, location: string): Tensor =>
  makeExternal(onnx.TensorProto.create({ name, dims: [4], dataType: onnx.TensorProto.DataType.FLOAT }), location, 16);

/** The toy embedder (runs, 64-d) with its projection's weights in `location`. */
function toyWithExternalWeights(location: string): Uint8Array {
  const model = onnx.ModelProto.decode(buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }));
  makeExternal(model.graph!.initializer!.find((t) => t.name === 'fc/weight') as Tensor, location);
  return onnx.ModelProto.encode(model).finish();
}

const toy = (): Model => onnx.ModelProto.decode(buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }));
const encode = (model: Model): Uint8Array => onnx.ModelProto.encode(model).finish();
const attr = (props: Record<string, unknown>) => onnx.AttributeProto.create(props as never);
const AT = onnx.AttributeProto.AttributeType;
const graphWith = (initializer: Tensor[] = [], node: InstanceType<typeof onnx.NodeProto>[] = []) => onnx.GraphProto.create({ name: 'sub', initializer, node });
/** The toy with `node` added to its graph (not wired to anything: the check reads, it does not run). */
const withNode = (node: Record<string, unknown>): Uint8Array => {
  const model = toy();
  model.graph!.node!.push(onnx.NodeProto.create(node as never));
  return encode(model);
};

/** Protobuf bytes: a varint, and a length-delimited field. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
};
const field = (no: number, bytes: Uint8Array): Uint8Array => Uint8Array.from([...varint(no * 8 + 2), ...varint(bytes.length), ...bytes]);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('externalDataProblem finds a tensor in an external file wherever ONNX allows one', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['a graph initializer', () => toyWithExternalWeights('W.bin'), /initializer "fc\/weight" is stored in W\.bin/],
    ['a sparse initializer', () => {
      const m = toy();
      m.graph!.sparseInitializer = [onnx.SparseTensorProto.create({ values: externalTensor('sp', 'etc/passwd'), indices: onnx.TensorProto.create({ name: 'sp_i', dims: [4], dataType: onnx.TensorProto.DataType.INT64, int64Data: [0, 1, 2, 3] }), dims: [8] })];
      return encode(m);
    }, /sparse initializer "sp" is stored in etc\/passwd/],
    ['a Constant node’s value (t)', () => withNode({ opType: 'Constant', name: 'c', output: ['c_out'], attribute: [attr({ name: 'value', type: AT.TENSOR, t: externalTensor('', '.ssh/id_rsa') })] }), /tensor in attribute value of Constant "c" is stored in \.ssh\/id_rsa/],
    ['a Constant node’s sparse_value', () => withNode({ opType: 'Constant', output: ['s_out'], attribute: [attr({ name: 'sparse_value', type: AT.SPARSE_TENSOR, sparseTensor: { values: externalTensor('sv', 'W.bin'), dims: [8] } })] }), /tensor "sv" in attribute sparse_value of Constant "s_out" is stored in W\.bin/],
    ['a tensors attribute', () => withNode({ opType: 'Custom', name: 'k', output: ['k_out'], attribute: [attr({ name: 'ts', type: AT.TENSORS, tensors: [onnx.TensorProto.create({ name: 'ok', dims: [1], dataType: 1, rawData: new Uint8Array(4) }), externalTensor('bad', 'W.bin')] })] }), /tensor "bad" in attribute ts of Custom "k" is stored in W\.bin/],
    ['an If’s then_branch (g)', () => withNode({ opType: 'If', name: 'if', input: ['cond'], output: ['y'], attribute: [attr({ name: 'then_branch', type: AT.GRAPH, g: graphWith([externalTensor('then_w', 'W.bin')]) })] }), /initializer "then_w" is stored in W\.bin/],
    ['a Loop inside an If’s else_branch', () => withNode({ opType: 'If', input: ['cond'], output: ['y'], attribute: [attr({ name: 'else_branch', type: AT.GRAPH, g: graphWith([], [onnx.NodeProto.create({ opType: 'Loop', output: ['l'], attribute: [attr({ name: 'body', type: AT.GRAPH, g: graphWith([], [onnx.NodeProto.create({ opType: 'Constant', output: ['deep'], attribute: [attr({ name: 'value', type: AT.TENSOR, t: externalTensor('deep_w', 'W.bin') })] })]) })] })]) })] }), /tensor "deep_w" in attribute value of Constant "deep" is stored in W\.bin/],
    ['a graphs attribute (a list of subgraphs)', () => withNode({ opType: 'Custom', output: ['g_out'], attribute: [attr({ name: 'branches', type: AT.GRAPHS, graphs: [graphWith(), graphWith([externalTensor('second', 'W.bin')])] })] }), /initializer "second" is stored in W\.bin/],
    ['a local function’s node', () => {
      const m = toy();
      m.functions = [onnx.FunctionProto.create({ name: 'f', domain: 'local', output: ['o'], node: [onnx.NodeProto.create({ opType: 'Constant', output: ['o'], attribute: [attr({ name: 'value', type: AT.TENSOR, t: externalTensor('fw', 'W.bin') })] })] })];
      return encode(m);
    }, /tensor "fw" in attribute value of Constant "o" is stored in W\.bin/],
    ['a local function’s attribute default (attribute_proto, unknown to onnx-proto 8)', () => {
      const fn = onnx.FunctionProto.encode(onnx.FunctionProto.create({ name: 'f', domain: 'local' })).finish();
      const defaults = onnx.AttributeProto.encode(attr({ name: 'w', type: AT.TENSOR, t: externalTensor('dw', 'W.bin') })).finish();
      return concat(encode(toy()), field(25, concat(fn, field(11, defaults))));
    }, /tensor "dw" in attribute w of function "f" is stored in W\.bin/],
    ['a training graph', () => {
      const m = toy();
      m.trainingInfo = [onnx.TrainingInfoProto.create({ initialization: graphWith([externalTensor('init_w', 'W.bin')]) })];
      return encode(m);
    }, /initializer "init_w" is stored in W\.bin/],
    ['external_data given, data_location left DEFAULT (protobuf merges a tensor given twice)', () => {
      const m = toy();
      const t = makeExternal(m.graph!.initializer![0] as Tensor, 'W.bin');
      t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
      return encode(m);
    }, /initializer "input_scale" is stored in W\.bin/],
    ['after an unknown field of the deprecated group type', () => {
      const group = Uint8Array.from([...varint(99 * 8 + 3), ...varint(1 * 8 + 0), 5, ...varint(99 * 8 + 4)]);
      return concat(group, toyWithExternalWeights('W.bin'));
    }, /initializer "fc\/weight" is stored in W\.bin/],
  ];
  it.each(cases)('%s', (_name, bytes, where) => {
    const problem = externalDataProblem(bytes());
    expect(problem).toMatch(/^weights in external data files are not supported: /);
    expect(problem).toMatch(where);
    expect(problem).toMatch(/; save the model with its weights inside the \.onnx$/);
  });

  it('subgraphs nested beyond what is walked are refused, not passed', () => {
    let g = graphWith([externalTensor('bottom', 'W.bin')]);
    for (let i = 0; i < 70; i++) g = graphWith([], [onnx.NodeProto.create({ opType: 'If', output: [`y${i}`], attribute: [attr({ name: 'then_branch', type: AT.GRAPH, g })] })]);
    const m = toy();
    m.graph!.node!.push(...g.node);
    expect(externalDataProblem(encode(m))).toMatch(/^subgraphs \(If, Loop, Scan\) nested more than 64 deep/);
  });

  it('a model with its weights inside has none; bytes the walk cannot read as protobuf are refused (fail closed)', () => {
    expect(externalDataProblem(buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }))).toBeUndefined();
    expect(externalDataProblem(new Uint8Array(0))).toBeUndefined(); // no field at all: onnxruntime says "no graph"
    for (const bytes of [new TextEncoder().encode('not a model at all'), buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }).subarray(0, 100)])
      expect(externalDataProblem(bytes)).toMatch(/^not an ONNX model this check can read \(its protobuf encoding is malformed\)/);
  });

  it('a Loop node is refused (it may run without end, and a model run cannot be stopped: models add hung), also inside a subgraph', () => {
    const loop = { opType: 'Loop', name: 'forever', input: ['', ''], output: ['y'] };
    expect(externalDataProblem(withNode(loop))).toBe('a Loop node (Loop "forever") may run without end, and a model run cannot be stopped: face models have none, not supported');
    const inIf = { opType: 'If', name: 'branch', input: ['c'], output: ['z'], attribute: [attr({ name: 'then_branch', type: AT.GRAPH, g: graphWith([], [onnx.NodeProto.create(loop as never)]) })] };
    expect(externalDataProblem(withNode(inIf))).toMatch(/^a Loop node \(Loop "forever"\)/);
    expect(externalDataProblem(withNode({ opType: 'Scan', name: 'bounded', output: ['s'] }))).toBeUndefined(); // as long as its input
  });

  it('a file of a million empty fields is refused after a bounded walk (48 MB of them took a minute and ran out of memory)', () => {
    const n = 1_000_000;
    const node = new Uint8Array(2 * n);
    for (let i = 0; i < n; i++) node.set([0x2a, 0x00], 2 * i); // empty attributes
    const wrap = (tag: number, body: Uint8Array) => Uint8Array.from([tag, ...[body.length % 128 | 0x80, (body.length >> 7) % 128 | 0x80, body.length >> 14], ...body]);
    expect(externalDataProblem(wrap(0x3a, wrap(0x0a, node)))).toMatch(/^more than 500,000 protobuf fields outside the weights/);
  });

  it('a tag written in 5 bytes with bits past 32 (protobuf drops them) or a data_location of 1 + 2^32 does not hide the tensor', () => {
    /** The message's top-level fields again, field `no`'s tag as 5 bytes with bit 32 set: to protobuf, the same tag. */
    const widenTag = (bytes: Uint8Array, no: number): Uint8Array => {
      const out: number[] = [];
      let pos = 0;
      const read = (): number => {
        let v = 0, scale = 1;
        for (;;) {
          const b = bytes[pos++]!;
          v += (b & 0x7f) * scale;
          if (b < 0x80) return v;
          scale *= 128;
        }
      };
      while (pos < bytes.length) {
        const tag = read();
        const tagBytes = tag >>> 3 === no ? [0, 1, 2, 3].map((i) => ((tag >>> (7 * i)) & 0x7f) | 0x80).concat([((tag >>> 28) & 0x0f) | 0x10]) : varint(tag);
        if ((tag & 7) === 0) out.push(...tagBytes, ...varint(read()));
        else if ((tag & 7) === 2) {
          const length = read();
          out.push(...tagBytes, ...varint(length), ...bytes.subarray(pos, pos + length));
          pos += length;
        } else throw new Error('only varint and length-delimited fields here');
      }
      return Uint8Array.from(out);
    };
    const model = toyWithExternalWeights('.ssh/id_rsa');
    expect(externalDataProblem(widenTag(model, 7))).toMatch(/^weights in external data files are not supported: initializer "fc\/weight" is stored in \.ssh\/id_rsa/);
    // data_location only (no external_data entry), as 1 + 2^32: an int32 enum to protobuf, so EXTERNAL.
    const tensor = onnx.TensorProto.encode(onnx.TensorProto.create({ name: 'w', dims: [4], dataType: onnx.TensorProto.DataType.FLOAT })).finish();
    const wide = Uint8Array.from([...tensor, (14 << 3) | 0, ...varint(1 + 2 ** 32)]);
    const graph = Uint8Array.from([(5 << 3) | 2, ...varint(wide.length), ...wide]);
    expect(externalDataProblem(Uint8Array.from([(7 << 3) | 2, ...varint(graph.length), ...graph]))).toMatch(/initializer "w" is stored in \(no location given\)/);
  });
});

describe('models add refuses a model with weights in an external file, before any session reads it', () => {
  it('run from a folder holding the file it names: exit 13, one line, nothing registered (the CLI)', () => {
    const file = path.join(tmp, 'stolen.onnx');
    writeFileSync(file, toyWithExternalWeights('.ssh/id_rsa'));
    const dir = path.join(tmp, 'cli-user-models');
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, CLI_ENTRY, 'models', 'add', file], {
      cwd: home,
      env: { ...process.env, FACECTL_USER_MODELS_DIR: dir },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr.trim().split('\n')).toEqual([
      `facectl: ${file}: weights in external data files are not supported: initializer "fc/weight" is stored in .ssh/id_rsa; save the model with its weights inside the .onnx`,
    ]);
    expect(existsSync(path.join(dir, 'user-models.json'))).toBe(false);
    expect(existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.onnx')) : []).toEqual([]);
    expect(repoRoot).not.toBe(home);
  });

  it.each(['.ssh/id_rsa', 'W.bin'])('in-process, working directory holding it (%s): no onnxruntime session is created', async (location) => {
    process.env.FACECTL_USER_MODELS_DIR = path.join(tmp, `in-process-${location.replace(/\W/g, '_')}`);
    writeFileSync(path.join(home, 'W.bin'), readFileSync(SECRET).subarray(0, 8192));
    const file = path.join(tmp, `external-${location.replace(/\W/g, '_')}.onnx`);
    writeFileSync(file, toyWithExternalWeights(location));
    process.chdir(home);
    const create = vi.spyOn(ort.InferenceSession, 'create');
    try {
      const r = await refusal(() => addUserModel(file, { id: 'stolen' }));
      expect(r.code).toBe(ExitCode.MODEL_ERROR);
      expect(r.line).toContain(`initializer "fc/weight" is stored in ${location}`);
      expect(create).not.toHaveBeenCalled();
    } finally {
      create.mockRestore();
    }
    expect(existsSync(path.join(process.env.FACECTL_USER_MODELS_DIR, 'stolen.onnx'))).toBe(false);
  });
});

describe('a model registered with weights in an external file (before this check) is refused at use', () => {
  const dir = path.join(tmp, 'registered');
  beforeAll(async () => {
    process.env.FACECTL_USER_MODELS_DIR = dir;
    const clean = path.join(tmp, 'clean.onnx');
    writeFileSync(clean, buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }));
    await addUserModel(clean, { id: 'old' });
    // What an older facectl registered: the copy names an external file, and its sha256 is recorded.
    const stolen = toyWithExternalWeights('.ssh/id_rsa');
    writeFileSync(path.join(dir, 'old.onnx'), stolen, { mode: 0o600 });
    const registry = path.join(dir, 'user-models.json');
    const doc = JSON.parse(readFileSync(registry, 'utf8'));
    doc.embedders[0].source.sha256 = sha256(stolen);
    writeFileSync(registry, JSON.stringify(doc), { mode: 0o600 });
  });

  it('resolving it, from a folder holding the file it names: exit 13, no session', async () => {
    process.env.FACECTL_USER_MODELS_DIR = dir;
    process.chdir(home);
    const create = vi.spyOn(ort.InferenceSession, 'create');
    try {
      const r = await refusal(() => resolveEmbedder('old', 'blazeface'));
      expect(r.code).toBe(ExitCode.MODEL_ERROR);
      expect(r.line).toBe(
        `${path.join(dir, 'old.onnx')}: model "old": weights in external data files are not supported: initializer "fc/weight" is stored in .ssh/id_rsa; save the model with its weights inside the .onnx (\`facectl models remove old\`, then \`facectl models add\` the re-saved file)`,
      );
      expect(create).not.toHaveBeenCalled();
    } finally {
      create.mockRestore();
    }
  });
});
