/** Shared helpers for the store tests: temp dirs, a sample model and faces, error matchers. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { type ExitCodeValue, FacectlError } from '../../src/errors.js';
import type { NewFace } from '../../src/store/types.js';
import type { StoreSnapshot } from '../../src/store/snapshot.js';
import { expectedState, scenarioEmbedding } from './fixtures/scenario.js';

const createdDirs: string[] = [];

/** A fresh temp directory, deleted after the test file (each file imports this module once). */
export function tempDir(prefix = 'facectl-store-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of createdDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export const MODEL = { id: 'test-model', hash: 'sha256:1111', dimension: 8 };

/** A face of identity `id` whose embedding is unit vector `axis` (plus `jitter` on the next axis). */
export function face(id: string, axis: number, extra: Partial<NewFace> = {}, jitter = 0): NewFace {
  const embedding = new Float32Array(MODEL.dimension);
  embedding[axis % MODEL.dimension] = 1;
  embedding[(axis + 1) % MODEL.dimension] = jitter;
  return {
    id,
    name: `Name of ${id}`,
    sourcePath: `/photos/${id}-${axis}.jpg`,
    imageSha256: 'ab'.repeat(32),
    box: { x: 10, y: 20, width: 100, height: 110 },
    quality: { score: 0.95, eyeDistancePx: 40, sizePx: 100, rollDeg: 1, yawDeg: -2 },
    embedding,
    ...extra,
  };
}

/** Runs `fn` and returns the FacectlError it throws, failing the test if it does not throw one with `code`. */
export async function expectFacectlError(fn: () => unknown, code: ExitCodeValue, message?: RegExp): Promise<FacectlError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a FacectlError').toBeInstanceOf(FacectlError);
  const err = thrown as FacectlError;
  expect(err.code, err.message).toBe(code);
  if (message) expect(err.oneLine()).toMatch(message);
  expect(err.oneLine()).not.toContain('\n');
  return err;
}

/** Asserts the snapshot is exactly the crash scenario's state after `n` steps (rows, embeddings, threshold). */
export function expectScenarioState(snapshot: StoreSnapshot, n: number): void {
  const want = expectedState(n);
  expect(snapshot.rows.map((r) => r.id)).toEqual(want.faces.map((k) => `p${k}`));
  expect(snapshot.threshold?.value ?? null).toBe(want.threshold);
  snapshot.rows.forEach((row, i) => {
    expect(Array.from(snapshot.embeddingOf(row))).toEqual(Array.from(scenarioEmbedding(want.faces[i]!)));
  });
}

export const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;

/** A pid that is certainly not running: a child that has already exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}
