/**
 * `facectl demo`: the whole job (detect, enroll, log in) on the photos installed with facectl, in a
 * temporary private store that is gone afterwards. Needs no ../shared.
 */
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDemoPhotos, SAMPLE_NAMES } from '../../src/app/demo.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, hasSamples, samplesDir } from '../helpers/samples.js';

describe.skipIf(!hasSamples)(`facectl demo${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('detects every face of the six samples, enrolls the first three photos, logs each enrolled face in as itself, and removes its store', () => {
    const r = runCli(['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.photos.map((p: { file: string }) => path.basename(p.file))).toEqual(SAMPLE_NAMES);
    // The people visible in each photo (counted by eye): 3, 3, 3, 4, 5, 4.
    expect(j.photos.map((p: { faces: number }) => p.faces)).toEqual([3, 3, 3, 4, 5, 4]);
    expect(j.enrolled).toHaveLength(9);
    const enrolled = j.enrolled.filter((e: { refused?: string }) => !e.refused);
    expect(enrolled.length).toBeGreaterThanOrEqual(7);
    // A face refused is refused for matching someone already enrolled (the duplicate check), nothing else.
    for (const e of j.enrolled.filter((x: { refused?: string }) => x.refused)) expect(e.refused).toMatch(/already matches enrolled identity/);
    // Every enrolled person logs in as themselves from a mirrored, smaller copy of their photo.
    expect(j.known.map((k: { id: string }) => k.id)).toEqual(enrolled.map((e: { id: string }) => e.id));
    for (const k of j.known) expect(k, JSON.stringify(k)).toMatchObject({ decision: 'ACCEPT', matched: k.id });
    // Faces of the other photos were never enrolled: every decision follows the threshold, and they are turned away.
    expect(j.strangers).toHaveLength(13);
    for (const s of j.strangers) expect(s.decision, JSON.stringify(s)).toBe(s.score >= j.threshold.value ? 'ACCEPT' : 'UNKNOWN');
    expect(j.strangers.filter((s: { decision: string }) => s.decision === 'UNKNOWN').length).toBeGreaterThanOrEqual(12);
    expect(j.store.mode).toBe(0o700);
    expect(j.store.removed).toBe(true);
    expect(existsSync(path.dirname(j.store.dir))).toBe(false);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('--photos <dir>: prints what it did, step by step, and a summary', () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), 'facectl-myphotos-'));
    for (const n of SAMPLE_NAMES) copyFileSync(path.join(samplesDir, n), path.join(mine, n));
    const r = runCli(['demo', '--photos', mine]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^detect {2}sample1\.jpg: 3 face\(s\)$/m);
    expect(r.stdout).toMatch(/^enroll {2}sample1-face1$/m);
    expect(r.stdout).toMatch(/^login {3}sample1-face1 .*: ACCEPT sample1-face1 /m);
    expect(r.stdout).toMatch(/^login {3}sample4\.jpg face 2 \(not enrolled\): UNKNOWN/m);
    expect(r.stdout).toMatch(/^summary: 22 faces found; .*store removed$/m);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine
});

describe('facectl demo without photos', () => {
  it('a folder without photos: one line, exit 14', () => {
    const r = runCli(['demo', '--photos', mkdtempSync(path.join(os.tmpdir(), 'facectl-nophotos-'))]);
    expect(r.code).toBe(ExitCode.NOT_FOUND);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^facectl: .*the demo needs at least 2 photos/);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('face-api not installed (an install from the registry): says where the samples come from and what to do', () => {
    const missing = (id: string): string => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    const err = (() => {
      try {
        findDemoPhotos(undefined, missing);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NOT_FOUND);
    expect((err as FacectlError).message).toMatch(/demo photos .* are not installed.*npm ci.*facectl demo --photos/);
    // And found through package resolution where it is installed.
    if (hasSamples) expect(findDemoPhotos()).toEqual(SAMPLE_NAMES.map((n) => path.join(samplesDir, n)));
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine
});
