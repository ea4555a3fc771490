/**
 * Alignment templates: where an embedder expects the five landmarks (image-left eye, image-right eye,
 * nose tip, image-left mouth corner, image-right mouth corner) inside its input crop. Each embedder was
 * trained on crops made one particular way; reproducing that way matters more than anything else
 * (MODEL-FACTS: the dlib chip gave 98.3 % on LFW fold 1 where the ArcFace template scaled to 150 gave 88.7 %).
 */
import type { AlignTemplate } from '../pipeline/align.js';

/** insightface's arcface_dst for 112×112 crops (insightface/utils/face_align.py). */
export const ARCFACE_112: readonly (readonly [number, number])[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** The ArcFace template at another crop size, optionally with a margin (fraction of 112 added on every side). */
export function arcfaceTemplate(size: number, margin = 0): AlignTemplate {
  const span = 112 * (1 + 2 * margin);
  return {
    width: size,
    height: size,
    points: ARCFACE_112.map(([x, y]) => [((x + 112 * margin) / span) * size, ((y + 112 * margin) / span) * size] as const),
  };
}

/**
 * dlib's mean face (get_face_chip_details in dlib/image_transforms/interpolation.h): average positions of
 * the 68-point landmarks 17..67 in a unit square. The dlib ResNet was trained on chips made from these.
 */
const DLIB_MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127,
  0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
  0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
  0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
  0.553364, 0.490127, 0.42689,
];
const DLIB_MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352,
  0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
  0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578,
  0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
  0.784792, 0.824182, 0.831803, 0.824182,
];

/** Mean position (unit square) of 68-point landmarks `from..to` inclusive. */
function dlibMean(from: number, to: number): [number, number] {
  let x = 0, y = 0;
  for (let i = from; i <= to; i++) {
    x += DLIB_MEAN_X[i - 17]!;
    y += DLIB_MEAN_Y[i - 17]!;
  }
  const n = to - from + 1;
  return [x / n, y / n];
}

/**
 * dlib's face chip (size 150, padding 0.25 as in dlib's face recognition example), expressed for our five
 * points: eye centres = mean of the eye contours (36–41, 42–47), nose tip = 30, mouth corners = 48 and 54.
 */
export function dlibChipTemplate(size = 150, padding = 0.25): AlignTemplate {
  const unit = [dlibMean(36, 41), dlibMean(42, 47), dlibMean(30, 30), dlibMean(48, 48), dlibMean(54, 54)];
  return {
    width: size,
    height: size,
    points: unit.map(([x, y]) => [((padding + x) / (2 * padding + 1)) * size, ((padding + y) / (2 * padding + 1)) * size] as const),
  };
}
