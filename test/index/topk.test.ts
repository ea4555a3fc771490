import { describe, expect, it } from 'vitest';
import { Rng } from '../../bench/lib/index-vectors.js';
import { TopK } from '../../src/index/topk.js';

describe('TopK', () => {
  it('keeps the k best of a stream, equal scores ordered by row', () => {
    const rng = new Rng(21);
    for (const k of [1, 3, 10, 50]) {
      // Coarse scores make many ties; rows are pushed in a shuffled order.
      const items = Array.from({ length: 200 }, (_, row) => ({ row, score: rng.int(20) / 4 }));
      for (let i = items.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [items[i], items[j]] = [items[j], items[i]];
      }
      const top = new TopK(k);
      for (const { row, score } of items) top.push(score, row);
      const want = [...items].sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
      expect(top.sorted()).toEqual({ scores: want.map((w) => w.score), rows: want.map((w) => w.row) });
      expect(top.size).toBe(k);
    }
  });

  it('reports its entry threshold and handles k = 0', () => {
    const top = new TopK(2);
    expect(top.threshold).toBe(-Infinity);
    top.push(0.5, 0);
    top.push(0.9, 1);
    expect(top.threshold).toBe(0.5);
    top.push(0.7, 2);
    expect(top.threshold).toBe(0.7);
    const none = new TopK(0);
    none.push(1, 0);
    expect(none.sorted()).toEqual({ scores: [], rows: [] });
  });
});
