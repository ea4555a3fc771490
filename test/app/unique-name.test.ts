/** One helper numbers clashing names for `cluster --link-to` and `detect --draw`: photo, photo-2, photo-3… */
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkGroups } from '../../src/app/cluster.js';
import { uniqueName } from '../../src/app/unique-name.js';

describe('uniqueName', () => {
  it('numbers a name from 2 on while it is taken, and remembers each name it gives', () => {
    const used = new Set<string>();
    expect(['a', 'a', 'b', 'a'].map((stem) => uniqueName(used, stem, '.faces.png'))).toEqual(['a.faces.png', 'a-2.faces.png', 'b.faces.png', 'a-3.faces.png']);
    expect(used.size).toBe(4);
  });

  it('keeps two same-named photos of one cluster group apart as links', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-unique-')), 'groups');
    const face = (file: string) => ({ file, face: 1, box: { x: 0, y: 0, width: 1, height: 1 }, score: 1 });
    const [folder] = linkGroups([[face('/photos/2024/p.jpg'), face('/photos/2025/p.jpg')]], out, 1);
    expect(readdirSync(folder!).sort()).toEqual(['p-2.jpg', 'p.jpg']);
    expect(readlinkSync(path.join(folder!, 'p-2.jpg'))).toBe('/photos/2025/p.jpg');
  });
});
