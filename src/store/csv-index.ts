/**
 * The columns a snapshot needs up front (who each row is and where its embedding is), read straight
 * from data.csv's bytes: opening a 1e5-row store then costs one memchr-driven pass and three short
 * string decodes per row, instead of a full decode (papaparse, ~4× slower). Full rows are decoded
 * with papaparse, and checked against this index, on first access of `snapshot.rows`.
 *
 * The scanner reads what encodeDataCsv writes (RFC 4180: fields quoted when needed, quotes doubled,
 * CRLF or LF line ends, optional BOM) and refuses anything else; open() only scans a data.csv whose
 * sha256 matches the manifest, i.e. one facectl wrote. test/store/csv.test.ts compares it with the
 * full decode on random hostile rows.
 */
import { CSV_COLUMNS, CsvFormatError, unguardCell } from './csv.js';
import type { FaceRow } from './types.js';

export interface RowIndex {
  ids: string[];
  names: string[];
  /** Row of embeddings.f32 for each data.csv row. */
  embeddingRows: Uint32Array;
  modelIds: string[];
}

export function indexOfRows(rows: readonly Readonly<FaceRow>[]): RowIndex {
  return {
    ids: rows.map((r) => r.id),
    names: rows.map((r) => r.name),
    embeddingRows: Uint32Array.from(rows, (r) => r.embeddingIndex),
    modelIds: rows.map((r) => r.modelId),
  };
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const COLUMNS = CSV_COLUMNS.length;
const LAST = COLUMNS - 1;
const ID_COLUMN = CSV_COLUMNS.indexOf('id');
const NAME_COLUMN = CSV_COLUMNS.indexOf('name');
const EMBEDDING_ROW_COLUMN = CSV_COLUMNS.indexOf('embedding_row');
const MODEL_ID_COLUMN = CSV_COLUMNS.indexOf('model_id');
const HEADER = Buffer.from(CSV_COLUMNS.join(','), 'utf8');
const BOM_BYTES = Buffer.from([0xef, 0xbb, 0xbf]);

/** Reads the RowIndex columns of data.csv; throws CsvFormatError on anything malformed. */
export function scanDataCsvIndex(data: Uint8Array): RowIndex {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = buf.length;
  let pos = buf.subarray(0, 3).equals(BOM_BYTES) ? 3 : 0;
  if (!buf.subarray(pos, pos + HEADER.length).equals(HEADER)) throw new CsvFormatError(`data.csv header is not ${HEADER.toString()}`);
  pos += HEADER.length;
  const ids: string[] = [];
  const names: string[] = [];
  const embeddingRows: number[] = [];
  const modelIds: string[] = [];
  let row = 0;
  const fail = (what: string): never => {
    throw new CsvFormatError(`data.csv row ${row}: ${what}`);
  };
  // Next line feed at or after pos (quoted fields may contain line feeds, so it is refreshed as pos moves).
  let lineFeed = -1;
  const nextLineFeed = (): number => {
    if (lineFeed !== n && lineFeed < pos) {
      lineFeed = buf.indexOf(LF, pos);
      if (lineFeed === -1) lineFeed = n;
    }
    return lineFeed;
  };
  // After the header and after each row, pos is at its line end.
  for (;;) {
    while (pos < n && (buf[pos] === CR || buf[pos] === LF)) pos++;
    if (pos >= n) break;
    row++;
    for (let col = 0; col < COLUMNS; col++) {
      let start = pos;
      let end: number;
      let quoted = false;
      let doubled = false;
      if (buf[pos] === QUOTE) {
        quoted = true;
        start = pos + 1;
        let q = buf.indexOf(QUOTE, start);
        while (q !== -1 && buf[q + 1] === QUOTE) {
          doubled = true;
          q = buf.indexOf(QUOTE, q + 2);
        }
        if (q === -1) fail('unterminated quoted field');
        end = q;
        pos = q + 1;
      } else {
        const feed = nextLineFeed();
        if (col < LAST) {
          end = buf.indexOf(COMMA, pos);
          if (end === -1 || end > feed) fail(`has ${col + 1} cells, expected ${COLUMNS}`);
        } else {
          end = feed > pos && buf[feed - 1] === CR ? feed - 1 : feed;
        }
        pos = end;
      }
      // Now at the separator: a comma between cells, a line end (or the end of the file) after the last one.
      if (col < LAST) {
        if (buf[pos] !== COMMA) fail(`malformed cell ${col + 1} (text after its closing quote)`);
        pos++;
      } else if (pos < n && buf[pos] !== CR && buf[pos] !== LF) {
        fail(buf[pos] === COMMA ? `has more than ${COLUMNS} cells` : `malformed cell ${COLUMNS} (text after its closing quote)`);
      } else if (!quoted) {
        const comma = buf.indexOf(COMMA, start);
        if (comma !== -1 && comma < end) fail(`has more than ${COLUMNS} cells`);
      }
      if (col === ID_COLUMN || col === NAME_COLUMN || col === MODEL_ID_COLUMN) {
        let text = buf.toString('utf8', start, end);
        if (doubled) text = text.replaceAll('""', '"');
        (col === ID_COLUMN ? ids : col === NAME_COLUMN ? names : modelIds).push(unguardCell(text));
      } else if (col === EMBEDDING_ROW_COLUMN) {
        let value = 0;
        for (let i = start; i < end; i++) {
          const digit = buf[i]! - 0x30;
          if (digit < 0 || digit > 9) fail(`embedding_row is not a row number: ${buf.toString('utf8', start, end)}`);
          value = value * 10 + digit;
        }
        if (end === start || value > 0xffffffff) fail(`embedding_row is not a row number: ${buf.toString('utf8', start, end)}`);
        embeddingRows.push(value);
      }
    }
  }
  return { ids, names, embeddingRows: Uint32Array.from(embeddingRows), modelIds };
}
