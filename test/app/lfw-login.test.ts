/** A small cut of the LFW login scenario (the full run is `npm run bench:lfw-login`). */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FacePipeline } from '../../src/pipeline/pipeline.js';
import { runLfwLogin } from '../../bench/lib/lfw-login.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`LFW login, 40 people + 40 strangers${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('identifies enrolled people from another photo and rejects strangers', async () => {
    const pipeline = await FacePipeline.load();
    const store = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-lfw-')), 'store');
    const r = await runLfwLogin(pipeline, dataset('lfw'), store, { people: 40, strangers: 40 });
    expect(r.enrolled).toBe(40);
    expect(r.rank1 / r.probes).toBeGreaterThanOrEqual(0.9);
    expect(r.wrongAccepts).toBeLessThanOrEqual(1);
    expect(r.strangerAccepts / r.strangers).toBeLessThanOrEqual(0.05);
    // The login threshold is set for 1:N safety (LFW FPIR 1 %): one-photo enrollment then accepts about
    // two thirds of genuine LFW logins (bench:lfw-login has the full numbers).
    expect(r.correctAccepts / r.probes).toBeGreaterThanOrEqual(0.5);
  }, 300_000);
});
