/** `enroll --dataset`: each folder's id and display name, and folders refused when their ids clash. */
import { describe, expect, it } from 'vitest';
import { folderIdentities, folderToName } from '../../src/app/folder-ids.js';
import { ExitCode } from '../../src/errors.js';
import { validateDisplayName } from '../../src/store/validate.js';

const clash = (folders: string[], stored: [string, string][] = []) => {
  try {
    folderIdentities(folders, new Map(stored));
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
    const imported: [string, string][] = [['Jos_', 'José'], ['joe_biden', 'joe biden']];
    expect(clash(['Jos_'], imported)?.message).toContain('folder "Jos_" → Jos_, enrolled already as "José"');
    expect(clash(['joe_biden'], imported)?.message).toContain('folder "joe_biden" → joe_biden, enrolled already as "joe biden"');
    expect(clash(['José', 'joe biden'], imported)).toBeNull(); // a resumed import
    // An id enrolled by hand under a display name of its own: a folder of exactly that id adds to it.
    expect(clash(['alice'], [['alice', 'Alice Smith']])).toBeNull();
    // A cleaned folder name that lands on it does not: facectl made that id up.
    expect(clash(['Joe Biden'], [['Joe_Biden', 'Joseph R. Biden']])?.message).toContain('folder "Joe Biden" → Joe_Biden');
  });

  it('cleans a display name the store would refuse (a tab) instead of failing the import; the id as before', () => {
    const [f] = folderIdentities(['Ann\tLee'], new Map());
    expect(f).toEqual({ folder: 'Ann\tLee', id: 'Ann_Lee', name: 'Ann Lee' });
    expect(validateDisplayName(folderToName('x'.repeat(300), 'x'))).toHaveLength(200);
    expect(folderToName('\t\n', 'fallback')).toBe('fallback');
    // Resuming it: the store holds the cleaned name, which is the same identity.
    expect(clash(['Ann\tLee'], [['Ann_Lee', 'Ann Lee']])).toBeNull();
  });
});
