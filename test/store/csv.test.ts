/** data.csv: exact round trip of hostile values, the formula-injection guard, and damaged files. */
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { indexOfRows, scanDataCsvIndex as scanBytes } from '../../src/store/csv-index.js';
import { CSV_COLUMNS, CsvFormatError, decodeDataCsv, encodeDataCsv, guardCell, unguardCell } from '../../src/store/csv.js';

const scanDataCsvIndex = scanBytes;
import type { FaceRow } from '../../src/store/types.js';

function row(id: string, name: string, extra: Partial<FaceRow> = {}): FaceRow {
  return {
    id,
    name,
    sourcePath: `/photos/${id}.jpg`,
    imageSha256: '0123456789abcdef'.repeat(4),
    box: { x: 12.345678901234567, y: -3, width: 100, height: 0.1 + 0.2 },
    quality: { score: 0.9999999, eyeDistancePx: 41.5, sizePx: 100, rollDeg: -0, yawDeg: 1e-7, sharpness: 123.456 },
    embeddingIndex: 0,
    modelId: 'dlib-resnet',
    addedAt: '2025-03-04T05:06:07.089Z',
    ...extra,
  };
}

const NASTY_NAMES = [
  'Smith, John',
  'Dwayne "The Rock" Johnson',
  '"',
  '""',
  ',',
  "O'Brien",
  "'quoted already",
  '=HYPERLINK("http://evil","click")',
  '+1 555',
  '-minus',
  '@SUM(A1:A9)',
  'Zoë Åström',
  '李小龙',
  'محمد',
  '👩🏽‍🚀 Astronaut',
  ' leading and trailing spaces ',
  'x'.repeat(200),
];

describe('data.csv codec', () => {
  it('round-trips nasty names, paths with newlines/commas/quotes, and exact numbers', () => {
    const rows = NASTY_NAMES.map((name, i) =>
      row(`id${i}`, name, {
        embeddingIndex: i,
        sourcePath: i % 2 ? `/weird/dir, with "quotes"\nand newline\r\n/${i}.jpg` : `=cmd|' /C calc'!A0 ${i}.jpg`,
      }),
    );
    rows.push(row('nosharp', 'No Sharpness', { embeddingIndex: rows.length, quality: { score: 1, eyeDistancePx: 2, sizePx: 3, rollDeg: 4, yawDeg: 5 } }));
    const text = encodeDataCsv(rows);
    const decoded = decodeDataCsv(text);
    expect(decoded.problems).toEqual([]);
    expect(decoded.rows).toEqual(rows);
    expect(Object.is(decoded.rows[0]!.quality.rollDeg, -0)).toBe(true);
    expect('sharpness' in decoded.rows.at(-1)!.quality).toBe(false);
    // Encoding what was decoded gives the same bytes.
    expect(encodeDataCsv(decoded.rows)).toBe(text);
  });

  it('is standard CSV: BOM, header row, CRLF, readable by a plain RFC 4180 parser', () => {
    const text = encodeDataCsv([row('a', 'Smith, John'), row('b', 'Zoë', { embeddingIndex: 1 })]);
    expect(text.startsWith('\ufeffid,name,source_path,')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const plain = Papa.parse<Record<string, string>>(text.slice(1), { header: true, skipEmptyLines: true });
    expect(plain.errors).toEqual([]);
    expect(plain.meta.fields).toEqual([...CSV_COLUMNS]);
    expect(plain.data.map((r) => r.name)).toEqual(['Smith, John', 'Zoë']);
    expect(plain.data[1]!.embedding_row).toBe('1');
  });

  it('guards formula-looking text cells with a leading apostrophe, and only those', () => {
    const text = encodeDataCsv([row('a', '=1+1', { sourcePath: '@x', modelId: '-m' }), row('b', "'q", { embeddingIndex: 1 })]);
    const raw = Papa.parse<string[]>(text.slice(1), { skipEmptyLines: true }).data;
    expect(raw[1]!.slice(0, 3)).toEqual(['a', "'=1+1", "'@x"]);
    expect(raw[1]![15]).toBe("'-m");
    expect(raw[1]![5]).toBe('-3'); // numbers are not guarded
    expect(raw[2]![1]).toBe("''q");
    for (const c of ['=', '+', '-', '@', '\t', '\r', "'"]) {
      expect(guardCell(`${c}x`)).toBe(`'${c}x`);
      expect(unguardCell(guardCell(`${c}x`))).toBe(`${c}x`);
    }
    expect(guardCell('plain')).toBe('plain');
    expect(guardCell('a=b')).toBe('a=b');
  });

  it('accepts LF line ends and a missing BOM (a spreadsheet re-save)', () => {
    const text = encodeDataCsv([row('a', 'Ann'), row('b', 'Bob', { embeddingIndex: 1 })]).slice(1).replace(/\r\n/g, '\n');
    expect(decodeDataCsv(text).rows.map((r) => r.name)).toEqual(['Ann', 'Bob']);
  });

  it('rejects a wrong header or broken quoting as a whole file', () => {
    expect(() => decodeDataCsv('who,what\r\na,b\r\n')).toThrow(CsvFormatError);
    expect(() => decodeDataCsv('')).toThrow(/header/);
    const good = encodeDataCsv([row('a', 'Ann')]);
    expect(() => decodeDataCsv(`${good}b,"unterminated\r\n`)).toThrow(CsvFormatError);
  });

  it('reports unreadable rows one by one', () => {
    const lines = encodeDataCsv([row('a', 'Ann'), row('b', 'Bob', { embeddingIndex: 1 }), row('c', 'Cy', { embeddingIndex: 2 })]).split('\r\n');
    lines[2] = lines[2]!.replace(',1,dlib', ',x,dlib'); // b: embedding_row not a number
    lines[3] = lines[3]!.replace(/^c,/, '.c,'); // c: invalid id
    const decoded = decodeDataCsv(lines.join('\r\n'));
    expect(decoded.rows.map((r) => r.id)).toEqual(['a']);
    expect(decoded.problems).toHaveLength(2);
    expect(decoded.problems[0]).toMatch(/^data\.csv row 2: embedding_row is not a number/);
    expect(decoded.problems[1]).toMatch(/^data\.csv row 3: invalid id/);
  });

  it('does not read an empty numeric cell as 0', () => {
    const line = encodeDataCsv([row('a', 'Ann')]).replace(',0.9999999,', ',,');
    expect(decodeDataCsv(line).problems[0]).toMatch(/det_score is not a number/);
  });
});

describe('data.csv index scan (what open() reads before full rows are needed)', () => {
  /** Deterministic pseudo-random strings drawn from the characters that stress CSV quoting. */
  function randomText(seed: number, length: number, alphabet: string[]): string {
    let s = seed;
    let out = '';
    for (let i = 0; i < length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      out += alphabet[s % alphabet.length];
    }
    return out;
  }
  const PATH_CHARS = ['a', 'Z', ',', '"', '\n', '\r', '\r\n', ' ', "'", '=', '-', '@', 'é', '😀', '\t'];
  const NAME_CHARS = ['a', 'Z', ',', '"', ' ', "'", '=', '-', '+', '@', 'ö', '李', '👩🏽‍🚀'];

  it('agrees with the full decode on 300 random hostile rows', () => {
    const rows = Array.from({ length: 300 }, (_, i) =>
      row(`id-${i % 37}`, `N${randomText(i + 1, i % 23, NAME_CHARS)}`, {
        embeddingIndex: (i * 7) % 300,
        sourcePath: randomText(i * 31 + 7, i % 41, PATH_CHARS),
        modelId: i % 2 ? '-model' : 'model',
      }),
    );
    const text = encodeDataCsv(rows);
    const full = decodeDataCsv(text);
    expect(full.problems).toEqual([]);
    expect(full.rows).toEqual(rows);
    const { starts, ...scanned } = scanDataCsvIndex(text);
    expect(scanned).toEqual(indexOfRows(rows));
    // Each row decodes alone from where the scan says it starts (what a login reads of one person's rows).
    const header = `${text.slice(1, text.indexOf('\r\n'))}\r\n`;
    expect(starts!.length).toBe(rows.length);
    rows.forEach((r, i) => {
      const alone = decodeDataCsv(header + text.slice(starts![i]!, i + 1 < rows.length ? starts![i + 1]! : text.length));
      expect(alone.rows, `row ${i}`).toEqual([r]);
    });
  });

  it('refuses what the full decode refuses structurally', () => {
    const good = encodeDataCsv([row('a', 'Ann')]);
    expect(() => scanDataCsvIndex(`${good}b,"unterminated\r\n`)).toThrow(CsvFormatError);
    expect(() => scanDataCsvIndex('id,name\r\n')).toThrow(/header/);
    expect(() => scanDataCsvIndex(good.replace(',0,dlib', ',x,dlib'))).toThrow(/embedding_row is not a row number/);
    expect(() => scanDataCsvIndex(`${good}a,b,c\r\n`)).toThrow(/row 2: has 3 cells, expected 17/);
    expect(() => scanDataCsvIndex(good.replace(/\r\n$/, ',extra\r\n'))).toThrow(/has more than 17 cells/);
    expect(() => scanDataCsvIndex(good.replace(/\r\n$/, ',"extra"\r\n'))).toThrow(/has more than 17 cells/);
    expect(() => scanDataCsvIndex(good.replace('Ann', '"Ann"x'))).toThrow(/malformed cell 2/);
    // No trailing line end, LF line ends, blank lines: all still read.
    const two = encodeDataCsv([row('a', 'Ann'), row('b', 'Bob', { embeddingIndex: 1 })]);
    expect(scanDataCsvIndex(two.replace(/\r\n$/, '')).ids).toEqual(['a', 'b']);
    expect(scanDataCsvIndex(two.replace(/\r\n/g, '\n\n')).ids).toEqual(['a', 'b']);
  });
});
