/**
 * Text tables: above TABLE_CHUNK_ROWS rows they are drawn in chunks (cli-table3 alone takes time in rows²:
 * `list` of 10⁵ people took 12 minutes), and must read exactly as one table would.
 */
import Table from 'cli-table3';
import { describe, expect, it } from 'vitest';
import { table, TABLE_CHUNK_ROWS } from '../../src/cli/common.js';

/** What one cli-table3 table gives for the same rows (the reference the chunks must match). */
function oneTable(head: string[], rows: (string | string[])[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((cell) => (Array.isArray(cell) ? cell.join('\n') : cell)));
  return t.toString();
}

describe('table', () => {
  it('a long table drawn in chunks is the same text as one table: widths from every row, wide characters, lines in a cell', () => {
    const rows = Array.from({ length: 2 * TABLE_CHUNK_ROWS + 37 }, (_, i) => [
      `p${i}`,
      i === 3 ? '東京 Zoë ✓' : i === TABLE_CHUNK_ROWS + 5 ? 'a much longer display name than the others' : `Person ${i}`,
      i % 97 === 0 ? ['a.jpg', 'b.jpg'] : String(i % 7),
    ]);
    const head = ['id', 'name', 'faces'];
    const chunked = table(head, rows);
    expect(chunked).toBe(oneTable(head, rows));
    // top, head, rule, each row and the rule after it (its second line too), bottom
    expect(chunked.split('\n')).toHaveLength(3 + 2 * rows.length + rows.filter((r) => Array.isArray(r[2])).length);
    // Exactly at the chunk size and one over, too.
    for (const n of [TABLE_CHUNK_ROWS, TABLE_CHUNK_ROWS + 1]) expect(table(head, rows.slice(0, n))).toBe(oneTable(head, rows.slice(0, n)));
    // A short row (cli-table3 merges what it lacks into one cell) or an empty one: still cli-table3's text.
    const ragged = [...rows.slice(0, TABLE_CHUNK_ROWS), ['p-short', 'only two'], []];
    expect(table(head, ragged)).toBe(oneTable(head, ragged));
  });
});
