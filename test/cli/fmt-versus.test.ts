/** verify's and login's printed score and threshold never contradict the decision through rounding. */
import { describe, expect, it } from 'vitest';
import { fmtVersus } from '../../src/cli/common.js';

describe('fmtVersus', () => {
  it('four decimals when they agree with the decision, more when rounding would contradict it', () => {
    expect(fmtVersus(0.7123, 0.5, true)).toEqual(['0.7123', '0.5000']);
    expect(fmtVersus(Math.fround(0.99999994), 1, false)).toEqual(['0.9999999', '1.0000000']); // verify X X --threshold 1
    expect(fmtVersus(0.50499, 0.505, false)).toEqual(['0.50499', '0.50500']); // login UNKNOWN just under
    expect(fmtVersus(0.505, 0.505, true)).toEqual(['0.5050', '0.5050']); // equal is accepted: ≥
    expect(fmtVersus(0.5049, 0.505, false, 3)).toEqual(['0.5049', '0.5050']); // the sheet's 3 decimals
  });
});
