/**
 * The login contact sheet (`login --sheet out.png`): one row per decided face (every face with
 * --all-faces), each the query face beside the matched identity's enrolled faces with their similarity
 * to it, so a person can check each decision by eye (the seed project's "show every photo of the
 * matched identity").
 */
import { createCanvas, loadImage, type SKRSContext2D } from '@napi-rs/canvas';
import sharp from 'sharp';
import { ensureChartFont } from '../eval/chart-fonts.js';
import { decodeImageFile } from '../pipeline/decode.js';
import type { Box, RgbImage } from '../pipeline/types.js';
import { writePrivateFile } from './output-file.js';

const TILE = 160;
const PAD = 12;
const LABEL = 40;
const HEADER = 36;
/** Height of one row: verdict line, tiles, labels, gap. */
export const SHEET_ROW_HEIGHT = HEADER + TILE + LABEL + PAD;

export interface SheetTile {
  /** The photo and the face box in it; null when the photo is gone (drawn as a placeholder). */
  image: RgbImage | null;
  box: Box;
  title: string;
  subtitle: string;
}

/** A square crop around a face box (1.4× its size), resized to TILE, as PNG bytes. */
async function faceTile(image: RgbImage, box: Box): Promise<Buffer> {
  const side = Math.max(box.width, box.height) * 1.4;
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  const left = Math.max(0, Math.round(cx - side / 2)), top = Math.max(0, Math.round(cy - side / 2));
  const width = Math.max(1, Math.min(image.width - left, Math.round(side))), height = Math.max(1, Math.min(image.height - top, Math.round(side)));
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize(TILE, TILE, { fit: 'contain', background: '#202020' })
    .png()
    .toBuffer();
}

/** The decoded photo, or null when it cannot be read; each file is decoded once per sheet through `memo`. */
export function loadTileImage(file: string, memo?: Map<string, Promise<RgbImage | null>>): Promise<RgbImage | null> {
  const cached = memo?.get(file);
  if (cached) return cached;
  const loaded = decodeImageFile(file).catch(() => null);
  memo?.set(file, loaded);
  return loaded;
}

export interface SheetRow {
  query: SheetTile;
  matches: SheetTile[];
  verdict: { text: string; accepted: boolean };
}

function label(ctx: SKRSContext2D, font: string, x: number, y: number, title: string, subtitle: string, color: string): void {
  ctx.fillStyle = color;
  ctx.font = `bold 13px ${font}`;
  ctx.fillText(fit(ctx, title, TILE), x, y + 16);
  ctx.fillStyle = '#cccccc';
  ctx.font = `12px ${font}`;
  ctx.fillText(fit(ctx, subtitle, TILE), x, y + 33);
}

const fit = (ctx: SKRSContext2D, text: string, width: number): string => {
  let t = text;
  while (t.length > 1 && ctx.measureText(t).width > width) t = t.slice(0, -2) + '…';
  return t;
};

/** One row per face: query tile first, a separator, then the identity's tiles; written as a private PNG. */
export async function writeContactSheet(outFile: string, rows: SheetRow[]): Promise<void> {
  const font = ensureChartFont().family;
  const count = Math.max(1, ...rows.map((r) => 1 + r.matches.length));
  const width = PAD + count * (TILE + PAD) + PAD;
  const canvas = createCanvas(width, Math.max(1, rows.length) * SHEET_ROW_HEIGHT);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#111111';
  ctx.fillRect(0, 0, width, canvas.height);
  for (const [r, row] of rows.entries()) await drawRow(ctx, font, row, r * SHEET_ROW_HEIGHT, width);
  await writePrivateFile(outFile, canvas.toBuffer('image/png'), '--sheet');
}

async function drawRow(ctx: SKRSContext2D, font: string, row: SheetRow, top: number, width: number): Promise<void> {
  ctx.fillStyle = row.verdict.accepted ? '#4caf50' : '#ff7043';
  ctx.font = `bold 16px ${font}`;
  ctx.fillText(fit(ctx, row.verdict.text, width - 2 * PAD), PAD, top + 24);
  const tiles = [row.query, ...row.matches];
  const y = top + HEADER;
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i]!;
    const x = PAD + i * (TILE + PAD) + (i > 0 ? PAD : 0);
    if (t.image) ctx.drawImage(await loadImage(await faceTile(t.image, t.box)), x, y, TILE, TILE);
    else {
      ctx.strokeStyle = '#555555';
      ctx.strokeRect(x + 0.5, y + 0.5, TILE - 1, TILE - 1);
      ctx.fillStyle = '#888888';
      ctx.font = `12px ${font}`;
      ctx.fillText('photo not found', x + 30, y + TILE / 2);
    }
    label(ctx, font, x, y + TILE, t.title, t.subtitle, i === 0 ? '#ffffff' : '#90caf9');
  }
  if (row.matches.length) {
    ctx.strokeStyle = '#444444';
    ctx.beginPath();
    ctx.moveTo(PAD + TILE + PAD + PAD / 2, y);
    ctx.lineTo(PAD + TILE + PAD + PAD / 2, y + TILE);
    ctx.stroke();
  }
}
