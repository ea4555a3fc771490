/**
 * YOLOv5-face (deepcam-cn/yolov5-face) output decoding. Its ONNX export decodes the grid itself and
 * returns one [1, N, 16] tensor: box centre and size (cx, cy, w, h) in input pixels, objectness, five
 * landmark pairs (left eye, right eye, nose, mouth left, mouth right), then the face class score. The
 * score is objectness × class score, as the repository's detect_face.py computes it.
 */
import { ModelError } from '../../errors.js';
import type { RawFace } from './raw-face.js';
import type { OutputTensor } from './scrfd-decode.js';

export const YOLO5FACE_WIDTH = 16;

export function decodeYolo5Face(output: OutputTensor, minScore: number, model = 'yolov5-face'): RawFace[] {
  const width = output.dims[output.dims.length - 1];
  if (width !== YOLO5FACE_WIDTH || output.data.length % YOLO5FACE_WIDTH !== 0)
    throw new ModelError(model, `expected a [1, N, 16] output, got ${JSON.stringify(output.dims)}`);
  const v = output.data, faces: RawFace[] = [];
  for (let r = 0; r < v.length; r += YOLO5FACE_WIDTH) {
    const score = v[r + 4]! * v[r + 15]!;
    if (!(score >= minScore)) continue; // a NaN score is no face
    const [cx, cy, w, h] = [v[r]!, v[r + 1]!, v[r + 2]!, v[r + 3]!];
    const points = Array.from({ length: 5 }, (_, p) => ({ x: v[r + 5 + 2 * p]!, y: v[r + 6 + 2 * p]! }));
    faces.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score, points });
  }
  return faces;
}
