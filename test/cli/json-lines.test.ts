/** serve's line reader: lines split across chunks, CRLF, a last line without newline, and over-long lines skipped and reported. */
import { describe, expect, it } from 'vitest';
import { boundedLines, type JsonLine } from '../../src/cli/json-lines.js';

async function read(chunks: (string | Buffer)[], max: number): Promise<JsonLine[]> {
  const out: JsonLine[] = [];
  async function* source() {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  for await (const item of boundedLines(source(), max)) out.push(item);
  return out;
}

describe('boundedLines', () => {
  it('splits lines across chunks, drops a CR before LF, keeps a last line without newline and multi-byte characters split between chunks', async () => {
    const e = Buffer.from('é');
    expect(await read(['{"a":', '1}\r\n\n{"b"', ':2}\n', Buffer.from('x'), e.subarray(0, 1), Buffer.concat([e.subarray(1), Buffer.from('y')])], 100)).toEqual([
      { line: '{"a":1}' },
      { line: '' },
      { line: '{"b":2}' },
      { line: 'xéy' },
    ]);
  });

  it('a byte-order mark before the first line is dropped, and only there', async () => {
    expect(await read(['\uFEFF{"a":1}\n\uFEFF{"b":2}\n'], 100)).toEqual([{ line: '{"a":1}' }, { line: '\uFEFF{"b":2}' }]);
  });

  it('a line over the limit is skipped to its newline and reported with its size; the next lines are read', async () => {
    expect(await read(['ok1\n', 'a'.repeat(6), 'a'.repeat(6), 'a\nok2\n', 'b'.repeat(20)], 10)).toEqual([
      { line: 'ok1' },
      { tooLong: 13 },
      { line: 'ok2' },
      { tooLong: 20 },
    ]);
    expect(await read(['x'.repeat(10), '\n'], 10)).toEqual([{ line: 'x'.repeat(10) }]);
  });
});
