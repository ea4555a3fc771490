/** `enroll --dataset`: each folder's id and display name, and folders refused when their ids clash. */
import { describe, expect, it } from 'vitest';
import { folderIdentities, folderToName, storedIdentities } from '../../src/app/folder-ids.js';
import { ExitCode } from '../../src/errors.js';
import { validateDisplayName } from '../../src/store/validate.js';

/** `stored`: the store's rows as [id, display name, photo path]. */
const clash = (folders: string[], stored: [string, string, string][] = []) => {
  try {
    folderIdentities(folders, storedIdentities(stored.map(([id, name, sourcePath]) => ({ id, name, sourcePath }))));
  } catch (err) {
    return err as { code: number; message: string };
  }
  return null;
};

describe('folderIdentities', () => {
  it('refuses folders that clean into one id, listing every clash, in one line', () => {
    const err = clash(['José', 'Jos_', 'joe biden', 'joe_biden', 'kit']);
    expect(err?.code).toBe(ExitCode.USAGE);
    expect(err?.message).toContain('folders "José" and "Jos_" → Jos_');
    expect(err?.message).toContain('folders "joe biden" and "joe_biden" → joe_biden');
    expect(err?.message).toMatch(/nothing enrolled$/);
    expect(err?.message).not.toContain('\n');
  });

  it('refuses a folder whose id the store holds for another folder; resuming the same folders is fine', () => {
    const imported: [string, string, string][] = [['Jos_', 'José', '/ds/José/1.jpg'], ['joe_biden', 'joe biden', '/ds/joe biden/1.jpg']];
    expect(clash(['Jos_'], imported)?.message).toContain('folder "Jos_" → Jos_, enrolled already as "José"');
    expect(clash(['joe_biden'], imported)?.message).toContain('folder "joe_biden" → joe_biden, enrolled already as "joe biden"');
    expect(clash(['José', 'joe biden'], imported)).toBeNull(); // a resumed import
    // An id enrolled by hand under a display name of its own: a folder of exactly that id adds to it.
    expect(clash(['alice'], [['alice', 'Alice Smith', '/home/u/photos/a.jpg']])).toBeNull();
    // A cleaned folder name that lands on it does not: facectl made that id up.
    expect(clash(['Joe Biden'], [['Joe_Biden', 'Joseph R. Biden', '/home/u/photos/j.jpg']])?.message).toContain('folder "Joe Biden" → Joe_Biden');
  });

  it('cleans a display name the store would refuse (a tab) instead of failing the import; the id as before', () => {
    const [f] = folderIdentities(['Ann\tLee'], new Map());
    expect(f).toEqual({ folder: 'Ann\tLee', id: 'Ann_Lee', name: 'Ann Lee' });
    expect(validateDisplayName(folderToName('x'.repeat(300), 'x'))).toHaveLength(200);
    expect(folderToName('\t\n', 'fallback')).toBe('fallback');
    // Resuming it: the store holds the cleaned name, which is the same identity.
    expect(clash(['Ann\tLee'], [['Ann_Lee', 'Ann Lee', '/ds/Ann\tLee/1.jpg']])).toBeNull();
  });

  it('decides from the folders the photos came from, not from the display name (trimmed, or changed with --name)', () => {
    expect(clash(['bob '], [['bob_', 'bob', '/ds/bob /1.jpg']])).toBeNull();
    expect(clash(['joe biden'], [['joe_biden', 'Joseph R. Biden', '/ds/joe biden/1.jpg'], ['joe_biden', 'Joseph R. Biden', '/elsewhere/j.jpg']])).toBeNull();
    // An id that came from another folder stays refused, even renamed to look like this one.
    expect(clash(['Jos_'], [['Jos_', 'Jos_', '/ds/José/1.jpg']])?.message).toContain('folder "Jos_" → Jos_, enrolled already as "Jos_"');
    expect(clash(['joe biden'], [['joe_biden', 'joe biden', '/ds/joe_biden/1.jpg']])?.message).toContain('folder "joe biden" → joe_biden');
  });
});
