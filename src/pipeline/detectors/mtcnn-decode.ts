/**
 * MTCNN's box arithmetic (Zhang et al. 2016, as davidsandberg/facenet's detect_face.py does it): the
 * P-Net scale pyramid, cells → candidate boxes, box regression and squaring. Pure functions, tested
 * without a model. Boxes are corners (x1, y1, x2, y2) in image pixels.
 */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** Regression (dx1, dy1, dx2, dy2) in units of the box's width and height. */
  reg: [number, number, number, number];
}

/** P-Net looks at 12×12 windows with stride 2. */
export const PNET_CELL = 12;
export const PNET_STRIDE = 2;
/** Pyramid step: each level is 0.709× the previous (√0.5, area halves). */
export const PYRAMID_FACTOR = 0.709;

/** Image scales at which P-Net's 12-pixel window covers faces from `minFace` pixels up to the whole image. */
export function pyramidScales(width: number, height: number, minFace: number, factor = PYRAMID_FACTOR): number[] {
  const scales: number[] = [];
  let m = PNET_CELL / minFace;
  for (let side = Math.min(width, height) * m; side >= PNET_CELL; side *= factor, m *= factor) scales.push(m);
  return scales;
}

/**
 * P-Net's output maps → candidates. The maps are laid out transposed ([x][y], as the network sees the
 * image): `prob` [w × h × 2] (index 1 = face), `reg` [w × h × 4]. Cell (x, y) covers input pixels
 * [2x, 2x + 12) × [2y, 2y + 12) of the image scaled by `scale`.
 */
export function pnetCandidates(prob: Float32Array, reg: Float32Array, w: number, h: number, scale: number, threshold: number): Candidate[] {
  const out: Candidate[] = [];
  for (let x = 0; x < w; x++)
    for (let y = 0; y < h; y++) {
      const cell = x * h + y;
      const score = prob[cell * 2 + 1]!;
      if (score < threshold) continue;
      out.push({
        x1: (PNET_STRIDE * x) / scale,
        y1: (PNET_STRIDE * y) / scale,
        x2: (PNET_STRIDE * x + PNET_CELL) / scale,
        y2: (PNET_STRIDE * y + PNET_CELL) / scale,
        score,
        reg: [reg[cell * 4]!, reg[cell * 4 + 1]!, reg[cell * 4 + 2]!, reg[cell * 4 + 3]!],
      });
    }
  return out;
}

/** Apply a candidate's regression to its box. */
export function regress(c: Candidate): Candidate {
  const w = c.x2 - c.x1, h = c.y2 - c.y1;
  return { ...c, x1: c.x1 + c.reg[0] * w, y1: c.y1 + c.reg[1] * h, x2: c.x2 + c.reg[2] * w, y2: c.y2 + c.reg[3] * h };
}

/** The square of the box's longer side around its centre (what the next stage's crop expects). */
export function square(c: Candidate): Candidate {
  const w = c.x2 - c.x1, h = c.y2 - c.y1, side = Math.max(w, h);
  const cx = c.x1 + w / 2, cy = c.y1 + h / 2;
  return { ...c, x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2 };
}

export const toBox = (c: Candidate) => ({ x: c.x1, y: c.y1, width: c.x2 - c.x1, height: c.y2 - c.y1 });
