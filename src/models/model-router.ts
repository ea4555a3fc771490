/**
 * What a user's model file is: TFLite by its identifier; an ONNX file told from its inputs and outputs the way insightface's model router does
 * (model_zoo.get_model): several outputs → a detector; one vector output → an embedder.
 *  - SCRFD: 9 outputs, per stride 8/16/32 scores […, 1], boxes […, 4], keypoints […, 10]. The 6-output
 *    variant has no keypoints and cannot be aligned with, so it is refused with that reason.
 *  - YOLOv5-face: one [1, N, 16] output (box, objectness, five landmark pairs, class score).
 *  - Embedder: one [N, D] output from a 112×112 image (the checks stay in user-models.ts).
 */
import { ExitCode, FacectlError } from '../errors.js';

/**
 * A TFLite model is a FlatBuffer whose file identifier (bytes 4–7) is "TFL3"; its name does not matter.
 * (`models add` converts such a file first: tflite/user-tflite.ts.)
 */
export const isTfliteFile = (bytes: Uint8Array): boolean =>
  bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33;

/** A dimension as onnxruntime reports it: a number, or a symbolic name / -1 when dynamic. */
export type MetaDim = number | string;

export interface DetectorSignature {
  kind: 'detector';
  family: 'scrfd' | 'yolov5-face';
  inputWidth: number;
  inputHeight: number;
}

/** Input size for a detector whose height and width are dynamic: what insightface and yolov5-face use. */
export const DEFAULT_DETECTOR_INPUT = 640;

const fixed = (d: MetaDim | undefined): number | null => (typeof d === 'number' && d > 0 ? d : null);

/**
 * A detector signature, or null when the file does not look like a detector (then it may be an
 * embedder). Throws MODEL_ERROR for a detector facectl recognises but cannot use.
 */
export function detectorSignature(input: readonly MetaDim[], outputs: readonly (readonly MetaDim[])[], file: string): DetectorSignature | null {
  const last = (dims: readonly MetaDim[]) => dims[dims.length - 1];
  const yolo = outputs.length === 1 && outputs[0]!.length === 3 && last(outputs[0]!) === 16;
  // A 1-D output is a score per anchor, as groupScrfdOutputs reads it.
  const widths = outputs.map((dims) => (dims.length === 1 ? 1 : last(dims)));
  const count = (w: number) => widths.filter((x) => x === w).length;
  const scrfd = (outputs.length === 9 || outputs.length === 6) && count(1) === 3 && count(4) === 3 && count(10) === outputs.length - 6;
  if (!yolo && !scrfd) {
    if (outputs.length > 1)
      throw new FacectlError(
        ExitCode.MODEL_ERROR,
        `${outputs.length} outputs of shapes ${JSON.stringify(outputs)}: not an embedder (one [N, D] output), an SCRFD detector (9 outputs: scores, boxes, keypoints for strides 8, 16, 32) or a YOLOv5-face detector (one [1, N, 16] output)`,
        file,
      );
    return null;
  }
  if (scrfd && outputs.length === 6)
    throw new FacectlError(ExitCode.MODEL_ERROR, 'an SCRFD detector without keypoints (6 outputs): facectl needs the five points to align faces; export the "_kps" model', file);
  if (input.length !== 4 || (fixed(input[1]) !== null && input[1] !== 3))
    throw new FacectlError(ExitCode.MODEL_ERROR, `a detector needs one NCHW RGB image input, found shape ${JSON.stringify(input)}`, file);
  const h = fixed(input[2]), w = fixed(input[3]);
  return { kind: 'detector', family: yolo ? 'yolov5-face' : 'scrfd', inputWidth: w ?? DEFAULT_DETECTOR_INPUT, inputHeight: h ?? DEFAULT_DETECTOR_INPUT };
}
