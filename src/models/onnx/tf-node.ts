/**
 * The TF.js graph-model node format (modelTopology.node[] in model.json) and readers for its
 * attributes, which are JSON renderings of TF AttrValue protos (strings base64, int64 as strings).
 */

export interface TfAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  tensor?: TfTensorAttr;
}

export interface TfTensorAttr {
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[] };
  floatVal?: number[];
  intVal?: number[];
  tensorContent?: string;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttrValue>;
  device?: string;
}

/** A reference to a node's output: "name", "name:1" (output index) or "^name" (control dependency). */
export interface TfInputRef {
  node: string;
  index: number;
  control: boolean;
}

export function parseInputRef(ref: string): TfInputRef {
  const control = ref.startsWith('^');
  const body = control ? ref.slice(1) : ref;
  const m = /^(.*):(\d+)$/.exec(body);
  return m ? { node: m[1]!, index: Number(m[2]), control } : { node: body, index: 0, control };
}

const decodeBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

export class TfAttrs {
  constructor(private readonly node: TfNode) {}

  private get(key: string): TfAttrValue | undefined {
    return this.node.attr?.[key];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  string(key: string, fallback?: string): string {
    const v = this.get(key)?.s;
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`node ${this.node.name} (${this.node.op}): missing string attribute ${key}`);
    }
    return decodeBase64(v);
  }

  int(key: string, fallback?: number): number {
    const v = this.get(key)?.i;
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`node ${this.node.name} (${this.node.op}): missing int attribute ${key}`);
    }
    return Number(v);
  }

  float(key: string, fallback: number): number {
    return this.get(key)?.f ?? fallback;
  }

  bool(key: string, fallback: boolean): boolean {
    return this.get(key)?.b ?? fallback;
  }

  ints(key: string, fallback?: number[]): number[] {
    const v = this.get(key)?.list?.i;
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`node ${this.node.name} (${this.node.op}): missing int list attribute ${key}`);
    }
    return v.map(Number);
  }

  strings(key: string): string[] {
    return (this.get(key)?.list?.s ?? []).map(decodeBase64);
  }

  /** Static dims of a shape attribute; unknown sizes are -1. */
  shape(key: string): number[] | undefined {
    const dims = this.get(key)?.shape?.dim;
    return dims?.map((d) => Number(d.size ?? -1));
  }

  tensor(key: string): TfTensorAttr | undefined {
    return this.get(key)?.tensor;
  }
}
