/**
 * The identities of a folder-per-person import (`enroll --dataset`): each folder's id and display name.
 * A folder name that is not a valid id is cleaned into one, so two folders can clean into the same id
 * (`José` and `Jos_`, `joe biden` and `joe_biden`), or into an id the store already holds for another
 * folder. Such folders are refused, all listed, before anything is enrolled, rather than numbered
 * (`Jos_-2`): a folder is one person, so merging them files two people under one id, and a number that
 * depends on the folder order and on what the store holds could change between runs, breaking resume;
 * renaming the folders is the user's call.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { isValidId, MAX_NAME_LENGTH } from '../store/validate.js';

export interface FolderIdentity {
  folder: string;
  id: string;
  /** The folder name as a display name (always valid). */
  name: string;
}

/** A folder name as an id: invalid characters become '_', length capped. */
function folderToId(folder: string): string {
  const cleaned = folder.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '').slice(0, 64);
  return cleaned || 'unnamed';
}

/** A folder name as a display name: control characters (a tab) become spaces, at most 200 characters; else the id. */
export function folderToName(folder: string, id: string): string {
  const cleaned = folder.replace(/[\p{Cc}\p{Cs}]/gu, ' ').trim();
  return cleaned ? Array.from(cleaned).slice(0, MAX_NAME_LENGTH).join('') : id;
}

/**
 * Whether a folder is the store's identity `id` (named `storedName`): a folder whose name is the id is
 * (the user named it so); a cleaned one only if the identity came from a folder of the same name, which
 * an import records as its display name.
 */
function sameIdentity(f: FolderIdentity, storedName: string): boolean {
  return folderToId(storedName) === f.id ? storedName === f.name : f.folder === f.id;
}

/** Each folder's id and name; USAGE listing every clash (with each other or with the store) when ids collide. */
export function folderIdentities(folders: readonly string[], stored: ReadonlyMap<string, string>): FolderIdentity[] {
  const all = folders.map((folder): FolderIdentity => {
    const id = isValidId(folder) ? folder : folderToId(folder);
    return { folder, id, name: folderToName(folder, id) };
  });
  const byId = new Map<string, FolderIdentity[]>();
  for (const f of all) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
  const clashes: string[] = [];
  for (const [id, group] of byId) {
    const names = group.map((f) => JSON.stringify(f.folder)).join(' and ');
    const storedName = stored.get(id);
    if (group.length > 1) clashes.push(`folders ${names} → ${id}`);
    else if (storedName !== undefined && !sameIdentity(group[0]!, storedName)) clashes.push(`folder ${names} → ${id}, enrolled already as ${JSON.stringify(storedName)}`);
  }
  if (clashes.length) {
    const shown = clashes.slice(0, 5).join('; ') + (clashes.length > 5 ? `; and ${clashes.length - 5} more` : '');
    throw new FacectlError(
      ExitCode.USAGE,
      `folders that would enroll different people under one id: ${shown}; rename them (an id is 1-64 letters, digits, '.', '_', '-'); nothing enrolled`,
    );
  }
  return all;
}
