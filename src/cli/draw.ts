/**
 * Pictures for people: detections drawn over a photo (`detect --draw`). Overlays are SVG composited
 * by sharp, so no font or canvas library is involved (labels are drawn with plain shapes: numbers use a
 * seven-segment style so they render on a machine with no fonts at all).
 */
import sharp from 'sharp';
import type { DetectedFace, RgbImage } from '../pipeline/types.js';

const SEGMENTS: Record<string, string> = {
  '0': 'abcdef', '1': 'bc', '2': 'abged', '3': 'abgcd', '4': 'fgbc', '5': 'afgcd', '6': 'afgedc', '7': 'abc', '8': 'abcdefg', '9': 'abfgcd', '.': '',
};

/** A number drawn as seven-segment strokes at (x, y) with digit height h. */
export function segmentDigits(text: string, x: number, y: number, h: number, color: string): string {
  const w = h * 0.5, parts: string[] = [];
  let cx = x;
  for (const ch of text) {
    if (ch === '.') {
      parts.push(`<circle cx="${cx}" cy="${y + h}" r="${h * 0.06}" fill="${color}"/>`);
      cx += w * 0.5;
      continue;
    }
    const segs = SEGMENTS[ch] ?? '';
    const lines: Record<string, [number, number, number, number]> = {
      a: [0, 0, w, 0], b: [w, 0, w, h / 2], c: [w, h / 2, w, h], d: [0, h, w, h], e: [0, h / 2, 0, h], f: [0, 0, 0, h / 2], g: [0, h / 2, w, h / 2],
    };
    for (const s of segs) {
      const [x1, y1, x2, y2] = lines[s]!;
      parts.push(`<line x1="${cx + x1}" y1="${y + y1}" x2="${cx + x2}" y2="${y + y2}" stroke="${color}" stroke-width="${Math.max(1, h * 0.12)}" stroke-linecap="round"/>`);
    }
    cx += w * 1.5;
  }
  return parts.join('');
}

/** Boxes, the five landmarks and each face's score, over the photo, as PNG bytes. */
export async function drawDetections(image: RgbImage, faces: DetectedFace[]): Promise<Buffer> {
  const stroke = Math.max(2, Math.round(Math.max(image.width, image.height) / 400));
  const shapes = faces.map((f) => {
    const { x, y, width, height } = f.box;
    const r = Math.max(2, f.quality.eyeDistancePx / 12);
    const dots = f.landmarks
      .map((p, i) => `<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${r.toFixed(1)}" fill="${['#00e5ff', '#00e5ff', '#ffd600', '#ff4081', '#ff4081'][i]}"/>`)
      .join('');
    const labelH = Math.max(10, Math.min(40, height / 6));
    const label = segmentDigits(f.score.toFixed(2), x, Math.max(2, y - labelH - stroke * 2), labelH, '#00ff66');
    return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${width.toFixed(1)}" height="${height.toFixed(1)}" fill="none" stroke="#00ff66" stroke-width="${stroke}"/>${dots}${label}`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${image.width}" height="${image.height}">${shapes.join('')}</svg>`;
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}
