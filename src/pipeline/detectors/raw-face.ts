/** A detector's face before it is mapped back to the image: box, score, five points (may be empty), in input pixels. */
import type { Box, Point } from '../types.js';

export interface RawFace {
  box: Box;
  score: number;
  points: Point[];
}
