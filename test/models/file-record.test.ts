import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { removeAbandonedTemps, tempNameFor, writeFileAtomic } from '../../src/models/file-record.js';

describe('removeAbandonedTemps', () => {
  it('removes temp files untouched for an hour; keeps fresh ones, other files and folders', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-temps-'));
    const file = (name: string, ageMs: number) => {
      const f = path.join(dir, name);
      writeFileSync(f, 'x');
      const t = (Date.now() - ageMs) / 1000;
      utimesSync(f, t, t);
      return name;
    };
    const hours = 3_600_000;
    const oldTemp = file(path.basename(tempNameFor(path.join(dir, 'model.onnx'))), 2 * hours);
    const oldOrtTemp = file(path.basename(tempNameFor(path.join(dir, 'abc'), '.onnx')), 2 * hours);
    const freshTemp = file(path.basename(tempNameFor(path.join(dir, 'model.onnx'))), 60_000); // a live writer's
    const oldModel = file('model.onnx', 2 * hours);
    const oldLookalike = file('model.tmp-notes.txt', 2 * hours);
    mkdirSync(path.join(dir, 'x.tmp-123-0123abcd'));
    expect(await removeAbandonedTemps(dir)).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([freshTemp, oldModel, oldLookalike, 'x.tmp-123-0123abcd'].sort());
    expect([oldTemp, oldOrtTemp].some((n) => existsSync(path.join(dir, n)))).toBe(false);
    expect(await removeAbandonedTemps(path.join(dir, 'missing'))).toBe(0);
  });

  it('writeFileAtomic writes through such a name and leaves none behind; with a mode, exactly that mode', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-atomic-'));
    const target = path.join(dir, 'a.json');
    await writeFileAtomic(target, '{}', 0o600);
    expect(readdirSync(dir)).toEqual(['a.json']);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(tempNameFor(target)).toMatch(/a\.json\.tmp-\d+-[0-9a-f]{8}$/);
  });

  it('writeFileAtomic syncs the new file before the rename makes it the file (a power loss left an empty user-models.json)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-atomic-'));
    const probe = await open(path.join(dir, 'probe'), 'w');
    const FileHandle = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const target = path.join(dir, 'user-models.json');
    const order: string[] = [];
    const sync = vi.spyOn(FileHandle, 'sync').mockImplementation(async function (this: unknown) {
      order.push(existsSync(target) ? 'sync after rename' : 'sync');
    });
    try {
      await writeFileAtomic(target, '{"version":1}', 0o600);
    } finally {
      sync.mockRestore();
    }
    expect(order).toEqual(['sync']);
    expect(readFileSync(target, 'utf8')).toBe('{"version":1}');
  });
});
