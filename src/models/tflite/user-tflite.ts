/**
 * A user's TFLite embedder (`facectl models add model.tflite`): most mobile face-recognition models
 * (MobileFaceNet and FaceNet ports for Android) ship as .tflite. It is converted once, at `models add`,
 * by the same TFLite front end as the built-in `mobilefacenet` (tflite/convert.ts: batch made dynamic,
 * spelled-out PReLUs folded, TFLite's SAME padding), and from then on it is an ONNX model like any other:
 * the converted file is what is copied, fingerprinted and run.
 */
import path from 'node:path';
import { errorLine, ExitCode, FacectlError } from '../../errors.js';
import { CONVERTER_VERSION } from '../builtin.js';
import { sha256 } from '../file-record.js';
import { convertTfliteModel } from './convert.js';
import { readTfliteModel, type TfliteModel } from './schema.js';

/** What a converted file records about where it came from (user-models.json). */
export interface TfliteOrigin {
  format: 'tflite';
  /** The .tflite file as the user named it, and its sha256. */
  file: string;
  sha256: string;
  /** facectl's converter version that made the ONNX file. */
  converter: string;
}

/**
 * The ONNX form of a .tflite file's bytes. A file that cannot be read or holds an op, type or layout the
 * converter does not handle gives exit 13 with the reason, never an internal error.
 */
export function convertUserTflite(bytes: Uint8Array, file: string): { bytes: Uint8Array; origin: TfliteOrigin } {
  let model: TfliteModel;
  try {
    model = readTfliteModel(bytes);
  } catch (err) {
    // The flatbuffer reader's own words for an offset past the end ("Offset is outside the bounds of the DataView").
    const reason = err instanceof RangeError ? 'it is cut or damaged (an offset points past the end of the file)' : errorLine(err);
    throw new FacectlError(ExitCode.MODEL_ERROR, `not a readable TFLite model: ${reason}`, file);
  }
  const origin: TfliteOrigin = { format: 'tflite', file: path.resolve(file), sha256: sha256(bytes), converter: CONVERTER_VERSION };
  try {
    const converted = convertTfliteModel(model, {
      graphName: path.basename(file).replace(/\.tflite$/i, '') || 'model',
      docString: `converted by facectl (converter ${CONVERTER_VERSION}) from ${path.basename(file)} (sha256 ${origin.sha256})`,
    });
    return { bytes: converted.bytes, origin };
  } catch (err) {
    // UnsupportedTfliteError names the op and tensor; anything else is a file the reader misread.
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot convert this TFLite model to ONNX: ${errorLine(err)}`, file);
  }
}
