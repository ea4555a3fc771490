/**
 * embeddings.f32: the layout documented in src/store/README.md is parsed from the README's own table and
 * used by a small independent reader (DataView, no store code) against files the store wrote.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDumpHeader, DumpFormatError, encodeDump } from '../../src/store/dump.js';
import { GalleryStore } from '../../src/store/index.js';
import { repoRoot } from '../helpers/shared.js';
import { face, MODEL, tempDir } from './helpers.js';

interface DocField {
  offset: number;
  size: number;
  field: string;
}

/** Rows of the "| offset | size | field |" table in the README. */
function documentedLayout(): DocField[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'src/store/README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| offset | size | field |'));
  return [...table.matchAll(/^\| (\d+) \| (\d+) \| (.+?) \|$/gm)].map((m) => ({ offset: Number(m[1]), size: Number(m[2]), field: m[3]! }));
}

/** What the README says each field holds, read with DataView / TextDecoder only. */
function readDocumented(bytes: Uint8Array, layout: DocField[]): Record<string, string | number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, string | number> = {};
  for (const { offset, size, field } of layout) {
    const raw = bytes.subarray(offset, offset + size);
    if (field.startsWith('u32')) out[field] = view.getUint32(offset, true);
    else if (field.startsWith('magic')) out[field] = new TextDecoder('ascii').decode(raw);
    else if (field.includes('NUL-padded')) out[field] = new TextDecoder().decode(raw).replace(/\0+$/, '');
    else if (field.startsWith('reserved')) out[field] = raw.every((b) => b === 0) ? 0 : -1;
    else throw new Error(`undocumented field kind: ${field}`);
  }
  return out;
}

describe('embeddings.f32 format', () => {
  it('the README table tiles the 256-byte header without gaps', () => {
    const layout = documentedLayout();
    expect(layout.length).toBeGreaterThanOrEqual(8);
    let next = 0;
    for (const f of layout) {
      expect(f.offset, f.field).toBe(next);
      next = f.offset + f.size;
    }
    expect(next).toBe(256);
  });

  it('a store-written dump matches the documented header and float layout', async () => {
    const dir = path.join(tempDir(), 'store');
    const model = { id: 'módel-ü', hash: `sha256:${'c'.repeat(64)}`, dimension: MODEL.dimension };
    const { snapshot } = await GalleryStore.mutate(dir, (d) => void d.addFaces(model, [face('a', 0), face('b', 3, {}, 0.5), face('c', 5)]));
    const bytes = fs.readFileSync(path.join(dir, 'embeddings.f32'));
    const doc = readDocumented(bytes, documentedLayout());
    const get = (prefix: string) => doc[Object.keys(doc).find((k) => k.startsWith(prefix))!];
    expect(get('magic')).toBe('FCTLEMB1');
    expect(get('u32 format version')).toBe(1);
    expect(get('u32 header size')).toBe(256);
    expect(get('u32 dimension')).toBe(model.dimension);
    expect(get('u32 row count')).toBe(3);
    expect(get('u32 generation')).toBe(snapshot.manifest.embeddingsGeneration);
    expect(get('model id')).toBe(model.id);
    expect(get('model hash')).toBe(model.hash);
    for (const [k, v] of Object.entries(doc)) if (k.startsWith('reserved')) expect(v, k).toBe(0);
    expect(bytes.length).toBe(256 + 3 * model.dimension * 4);

    // The numpy recipe: first six u32 words, floats from h[3], shape (h[5], h[4]).
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const h = Array.from({ length: 6 }, (_, i) => view.getUint32(i * 4, true));
    const rowsDoc = Array.from({ length: h[5]! }, (_, r) =>
      Array.from({ length: h[4]! }, (_, c) => view.getFloat32(h[3]! + (r * h[4]! + c) * 4, true)),
    );
    snapshot.rows.forEach((row) => expect(rowsDoc[row.embeddingIndex]).toEqual(Array.from(snapshot.embeddingOf(row))));
    // Stored rows are L2-normalised (face b was given an unnormalised vector).
    const b = rowsDoc[snapshot.rows[1]!.embeddingIndex]!;
    expect(Math.hypot(...b)).toBeCloseTo(1, 6);
  });

  it('decodes what it encodes and rejects damaged headers', () => {
    const vectors = Float32Array.from([1, 0, 0, 1]);
    const bytes = encodeDump({ dimension: 2, rows: 2, generation: 9, modelId: 'm', modelHash: 'h' }, vectors);
    expect(decodeDumpHeader(bytes)).toEqual({ version: 1, dimension: 2, rows: 2, generation: 9, modelId: 'm', modelHash: 'h' });
    expect(() => decodeDumpHeader(bytes.subarray(0, 100))).toThrow(DumpFormatError);
    const wrongMagic = Buffer.from(bytes);
    wrongMagic.write('NOTADUMP', 0, 'ascii');
    expect(() => decodeDumpHeader(wrongMagic)).toThrow(/FCTLEMB1/);
    const future = Buffer.from(bytes);
    future.writeUInt32LE(2, 8);
    expect(() => decodeDumpHeader(future)).toThrow(/format version 2/);
    expect(() => encodeDump({ dimension: 2, rows: 2, generation: 1, modelId: 'x'.repeat(65), modelHash: 'h' }, vectors)).toThrow(/64 bytes/);
  });
});
