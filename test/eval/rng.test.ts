import { describe, expect, it } from 'vitest';
import { createRng, sampleWithoutReplacement, shuffled } from '../../src/eval/rng.js';

describe('seeded rng', () => {
  it('repeats for a seed, differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    const c = createRng(43);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
    expect(createRng(2 ** 40).next()).not.toBe(createRng(0).next());
  });

  it('int(n) stays in range and is roughly uniform', () => {
    const rng = createRng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[rng.int(10)]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200); // > 4.7 sigma
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => createRng(1.5)).toThrow(RangeError);
  });

  it('shuffled is a permutation and leaves its input alone; samples are distinct', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const s = shuffled(items, createRng(3));
    expect([...s].sort((x, y) => x - y)).toEqual(items);
    expect(s).not.toEqual(items);
    expect(items[0]).toBe(0);
    const sample = sampleWithoutReplacement(items, 20, createRng(4));
    expect(new Set(sample).size).toBe(20);
    expect(sampleWithoutReplacement(items, 80, createRng(4))).toHaveLength(50);
  });
});
