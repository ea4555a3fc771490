/**
 * data.csv codec: RFC 4180 (papaparse), CRLF, UTF-8 with a BOM so spreadsheets read Unicode names,
 * one header row, one row per enrolled face.
 *
 * Formula-injection guard: a text cell that starts with `=`, `+`, `-`, `@`, tab, CR, or `'` is written
 * with one extra leading `'` (spreadsheets then show it as text), and one leading `'` is removed on read,
 * so every value round-trips exactly. Numeric columns are written by us as plain numbers and not guarded.
 */
import Papa from 'papaparse';
import type { FaceRow } from './types.js';
import { isValidId, nameProblem } from './validate.js';

export const CSV_COLUMNS = [
  'id',
  'name',
  'source_path',
  'image_sha256',
  'box_x',
  'box_y',
  'box_w',
  'box_h',
  'det_score',
  'eye_distance_px',
  'face_size_px',
  'roll_deg',
  'yaw_deg',
  'sharpness',
  'embedding_row',
  'model_id',
  'added_at',
] as const;

export const BOM = '\ufeff';
const FORMULA_START = /^[=+\-@\t\r']/;

/** Adds the leading `'` that stops a spreadsheet from evaluating the cell. */
export const guardCell = (text: string): string => (FORMULA_START.test(text) ? `'${text}` : text);
/** Inverse of guardCell. */
export const unguardCell = (text: string): string => (text.startsWith("'") ? text.slice(1) : text);

/** Exact text form of a number: String() round-trips every double except -0. */
const numberCell = (n: number): string => (Object.is(n, -0) ? '-0' : String(n));

function rowCells(row: FaceRow): string[] {
  const { box, quality: q } = row;
  return [
    guardCell(row.id),
    guardCell(row.name),
    guardCell(row.sourcePath),
    guardCell(row.imageSha256),
    numberCell(box.x),
    numberCell(box.y),
    numberCell(box.width),
    numberCell(box.height),
    numberCell(q.score),
    numberCell(q.eyeDistancePx),
    numberCell(q.sizePx),
    numberCell(q.rollDeg),
    numberCell(q.yawDeg),
    q.sharpness === undefined ? '' : numberCell(q.sharpness),
    String(row.embeddingIndex),
    guardCell(row.modelId),
    guardCell(row.addedAt),
  ];
}

/** The whole file as text (BOM, header, CRLF rows, trailing CRLF). */
export function encodeDataCsv(rows: readonly FaceRow[]): string {
  const body = Papa.unparse({ fields: [...CSV_COLUMNS], data: rows.map(rowCells) }, { newline: '\r\n', quotes: false });
  return `${BOM}${body}\r\n`;
}

export interface DecodedCsv {
  rows: FaceRow[];
  /** Rows that could not be read, one line each ("row 3: …"); their data is dropped from `rows`. */
  problems: string[];
}

/** Thrown when the file as a whole cannot be read (bad quoting, wrong header). */
export class CsvFormatError extends Error {}

/** A finite number from a cell (empty → undefined when optional); throws with the column name otherwise. */
function parseNumber(cells: readonly string[], column: number, optional = false): number {
  const cell = cells[column]!;
  // Number('') and Number(' ') are 0: an empty numeric cell must not silently become 0.
  const value = cell === '' || cell.charCodeAt(0) === 32 ? NaN : Number(cell);
  if (Number.isFinite(value) || (optional && cell === '')) return value;
  throw new Error(`${CSV_COLUMNS[column]} is not a number: ${JSON.stringify(cell)}`);
}

// Hot path (1e5 rows on every open): no per-row closures or spreads.
function decodeRow(cells: readonly string[]): FaceRow {
  if (cells.length !== CSV_COLUMNS.length) throw new Error(`has ${cells.length} cells, expected ${CSV_COLUMNS.length}`);
  const id = unguardCell(cells[0]!);
  if (!isValidId(id)) throw new Error(`invalid id ${JSON.stringify(id)}`);
  const name = unguardCell(cells[1]!);
  const problem = nameProblem(name);
  if (problem) throw new Error(`invalid name for ${id}: ${problem}`);
  const embeddingIndex = parseNumber(cells, 14);
  if (!Number.isSafeInteger(embeddingIndex) || embeddingIndex < 0) throw new Error(`embedding_row is not a row number: ${cells[14]}`);
  const quality: FaceRow['quality'] = {
    score: parseNumber(cells, 8),
    eyeDistancePx: parseNumber(cells, 9),
    sizePx: parseNumber(cells, 10),
    rollDeg: parseNumber(cells, 11),
    yawDeg: parseNumber(cells, 12),
  };
  const sharpness = parseNumber(cells, 13, true);
  if (!Number.isNaN(sharpness)) quality.sharpness = sharpness;
  return {
    id,
    name,
    sourcePath: unguardCell(cells[2]!),
    imageSha256: unguardCell(cells[3]!),
    box: { x: parseNumber(cells, 4), y: parseNumber(cells, 5), width: parseNumber(cells, 6), height: parseNumber(cells, 7) },
    quality,
    embeddingIndex,
    modelId: unguardCell(cells[15]!),
    addedAt: unguardCell(cells[16]!),
  };
}

/** Parses data.csv; malformed rows are reported in `problems` (row numbers count data rows from 1). */
export function decodeDataCsv(content: string): DecodedCsv {
  const textBody = content.startsWith(BOM) ? content.slice(1) : content;
  const rows: FaceRow[] = [];
  const problems: string[] = [];
  let header: string[] | undefined;
  let fatal: string | undefined;
  let record = 0;
  // Row by row (step) rather than one big array: each row's cells die young, which halves GC time at 1e5 rows.
  Papa.parse<string[]>(textBody, {
    header: false,
    skipEmptyLines: true,
    delimiter: ',',
    step: (result, parser) => {
      const bad = result.errors.find((e) => e.type === 'Quotes' || e.type === 'Delimiter');
      if (bad) {
        fatal = `data.csv is not valid CSV: ${bad.message} (near data row ${record + 1})`;
        parser.abort();
        return;
      }
      if (!header) {
        header = result.data;
        if (header.join(',') !== CSV_COLUMNS.join(',')) parser.abort();
        return;
      }
      record++;
      try {
        rows.push(decodeRow(result.data));
      } catch (err) {
        problems.push(`data.csv row ${record}: ${(err as Error).message}`);
      }
    },
  });
  if (fatal) throw new CsvFormatError(fatal);
  if (!header || header.join(',') !== CSV_COLUMNS.join(',')) throw new CsvFormatError(`data.csv header is not ${CSV_COLUMNS.join(',')}`);
  return { rows, problems };
}

