/**
 * Which face enroll takes from a photo with a subject and a bystander: the subject (the largest face) is
 * chosen first and then judged, so a subject turned too far is refused (exit 7) instead of the bystander
 * being stored under the subject's id, which a login with the same photo would then not match.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`enroll: the subject, not a bystander${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-enroll-choice-'));
  const photo = path.join(tmp, 'turned-subject-and-bystander.jpg');
  beforeAll(async () => {
    // A face turned 62° away (too far to enroll), and beside it a smaller frontal face of someone else.
    const subject = dataset('edge-cases/pose/left_face.jpeg'); // 640×821
    const bystander = await sharp(dataset('face-recognition-examples/joe_biden/biden.jpg')).resize({ height: 1102 }).toBuffer(); // 485×1102
    await sharp({ create: { width: 1145, height: 1102, channels: 3, background: '#ffffff' } })
      .composite([{ input: subject, left: 0, top: 0 }, { input: bystander, left: 660, top: 0 }])
      .jpeg({ quality: 92 })
      .toFile(photo);
  });

  it('counts the turned subject as a face (exit 5), and with --largest takes it and refuses it (exit 7); nothing is stored', () => {
    const store = path.join(tmp, 'store');
    const single = runCli(['enroll', 'x', photo, '--store', store]);
    expect(single.code, single.stderr).toBe(ExitCode.MULTIPLE_FACES);
    expect(single.stderr).toMatch(/2 faces found where one was expected/);
    const largest = runCli(['enroll', 'x', photo, '--largest', '--store', store]);
    expect(largest.code, largest.stderr).toBe(ExitCode.LOW_QUALITY);
    expect(largest.stderr.trim()).toMatch(/: face turned too far \(yaw -6\d°\) \(nothing enrolled\)$/);
    expect(existsSync(store)).toBe(false);
  }, 120_000);
});
