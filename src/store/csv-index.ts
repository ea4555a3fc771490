/**
 * The columns a snapshot needs up front (who each row is and where its embedding is), read in one
 * pass over data.csv's text that materialises only those four cells per row: opening a 1e5-row store
 * then skips the full decode (papaparse plus row objects, several times slower). Full rows are decoded
 * with papaparse, and checked against this index, on first access of `snapshot.rows`.
 *
 * The scanner reads what encodeDataCsv writes (RFC 4180: fields quoted when needed, quotes doubled,
 * CRLF or LF line ends, optional BOM) and refuses anything else; open() only scans a data.csv whose
 * sha256 matches the manifest, i.e. one facectl wrote. test/store/csv.test.ts compares it with the
 * full decode on random hostile rows.
 */
import { BOM, CSV_COLUMNS, CsvFormatError, unguardCell } from './csv.js';
import type { FaceRow } from './types.js';

export interface RowIndex {
  ids: string[];
  names: string[];
  /** Row of embeddings.f32 for each data.csv row. */
  embeddingRows: Uint32Array;
  modelIds: string[];
  /**
   * Where each row starts in the text scanned (data.csv as decoded, without its BOM), when the index was
   * scanned from it: a reader decodes one person's rows from there without decoding the whole file.
   */
  starts?: Uint32Array;
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
const HEADER = CSV_COLUMNS.join(',');

/** Reads the RowIndex columns of data.csv (its text, BOM optional); throws CsvFormatError on anything malformed. */
export function scanDataCsvIndex(content: string): RowIndex {
  // charCodeAt loops and slice() on one string: both are JIT intrinsics, so this is several times
  // faster than tokenising every cell into an array (papaparse) or decoding cells from a Buffer.
  const n = content.length;
  let pos = content.startsWith(BOM) ? 1 : 0;
  if (!content.startsWith(HEADER, pos)) throw new CsvFormatError(`data.csv header is not ${HEADER}`);
  pos += HEADER.length;
  const ids: string[] = [];
  const names: string[] = [];
  const embeddingRows: number[] = [];
  const modelIds: string[] = [];
  const starts: number[] = [];
  let row = 0;
  const fail = (what: string): never => {
    throw new CsvFormatError(`data.csv row ${row}: ${what}`);
  };
  // Next line feed at or after pos; quoted cells may contain line feeds, so it is refreshed as pos passes it.
  let lineFeed = -1;
  const lineEnd = (): number => {
    if (lineFeed < pos && lineFeed !== n) {
      lineFeed = content.indexOf('\n', pos);
      if (lineFeed === -1) lineFeed = n;
    }
    return lineFeed;
  };
  for (;;) {
    // Skip the line end of the previous row (and blank lines).
    while (pos < n && (content.charCodeAt(pos) === CR || content.charCodeAt(pos) === LF)) pos++;
    if (pos >= n) break;
    row++;
    starts.push(pos);
    for (let col = 0; col < COLUMNS; col++) {
      let start = pos;
      let end: number;
      let doubled = false;
      if (content.charCodeAt(pos) === QUOTE) {
        start = ++pos;
        for (;;) {
          pos = content.indexOf('"', pos);
          if (pos === -1) fail('unterminated quoted field');
          if (content.charCodeAt(pos + 1) !== QUOTE) break;
          doubled = true;
          pos += 2;
        }
        end = pos++;
        // After a closing quote: a comma between cells, a line end (or the end of the text) after the last one.
        const sep = pos < n ? content.charCodeAt(pos) : LF;
        if (col < LAST ? sep !== COMMA : sep !== CR && sep !== LF) {
          fail(sep === COMMA ? `has more than ${COLUMNS} cells` : sep === CR || sep === LF ? `has ${col + 1} cells, expected ${COLUMNS}` : `malformed cell ${col + 1} (text after its closing quote)`);
        }
      } else if (col < LAST) {
        end = content.indexOf(',', pos);
        if (end === -1 || end > lineEnd()) fail(`has ${col + 1} cells, expected ${COLUMNS}`);
        pos = end;
      } else {
        const feed = lineEnd();
        end = feed > pos && content.charCodeAt(feed - 1) === CR ? feed - 1 : feed;
        const comma = content.indexOf(',', pos);
        if (comma !== -1 && comma < end) fail(`has more than ${COLUMNS} cells`);
        pos = end;
      }
      if (col < LAST) pos++; // past the comma
      if (col === ID_COLUMN || col === NAME_COLUMN || col === MODEL_ID_COLUMN) {
        let text = content.slice(start, end);
        if (doubled) text = text.replaceAll('""', '"');
        (col === ID_COLUMN ? ids : col === NAME_COLUMN ? names : modelIds).push(unguardCell(text));
      } else if (col === EMBEDDING_ROW_COLUMN) {
        let value = 0;
        for (let i = start; i < end; i++) {
          const digit = content.charCodeAt(i) - 0x30;
          if (digit < 0 || digit > 9) fail(`embedding_row is not a row number: ${content.slice(start, end)}`);
          value = value * 10 + digit;
        }
        if (end === start || value > 0xffffffff) fail(`embedding_row is not a row number: ${content.slice(start, end)}`);
        embeddingRows.push(value);
      }
    }
  }
  return { ids, names, embeddingRows: Uint32Array.from(embeddingRows), modelIds, starts: Uint32Array.from(starts) };
}
