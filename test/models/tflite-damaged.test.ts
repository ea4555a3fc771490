/**
 * A damaged .tflite file is refused with what is wrong in words, never with the reader's JavaScript error
 * ("Cannot read properties of undefined", "used before it is computed" for a buffer that does not exist).
 * The damage is written into a real file (the committed toy-embedder fixture) at the field's own position.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FbTable } from '../../src/models/tflite/flatbuffer.js';
import { readTfliteModel } from '../../src/models/tflite/schema.js';
import { tfliteFixture } from './tflite-cases.js';

/** FbTable's private field and vector positions, to write damage where the reader will look. */
type Positions = { field(id: number): number; vector(id: number): [number, number] };

function subgraph(bytes: Buffer): FbTable {
  return FbTable.root(bytes).tables(2)[0]!;
}

describe('readTfliteModel on damaged files', () => {
  const original = readFileSync(tfliteFixture('toy-embedder'));

  it('a tensor naming a buffer the file does not have', () => {
    const bytes = Buffer.from(original);
    const tensor = subgraph(bytes).tables(0).find((t) => t.u32(2) > 0)!; // one holding weights
    bytes.writeUInt32LE(9999, (tensor as unknown as Positions).field(2));
    expect(() => readTfliteModel(bytes)).toThrow(/^tensor \d+ refers to buffer 9999; the file has \d+: it is damaged$/);
  });

  it('an operator naming a tensor the graph does not have', () => {
    const bytes = Buffer.from(original);
    const op = subgraph(bytes).tables(3)[0]!;
    const [first] = (op as unknown as Positions).vector(1); // its inputs
    bytes.writeInt32LE(9999, first);
    expect(() => readTfliteModel(bytes)).toThrow(/^the graph refers to tensor 9999; it has \d+: the file is damaged$/);
    expect(() => readTfliteModel(original)).not.toThrow();
  });
});
