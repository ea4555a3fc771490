/**
 * The identities of a folder-per-person import (`enroll --dataset`): each folder's id and display name.
 * A folder name that is not a valid id is cleaned into one, so two folders can clean into the same id
 * (`José` and `Jos_`, `joe biden` and `joe_biden`), or into an id the store already holds for another
 * folder. Such folders are refused, all listed, before anything is enrolled, rather than numbered
 * (`Jos_-2`): a folder is one person, so merging them files two people under one id, and a number that
 * depends on the folder order and on what the store holds could change between runs, breaking resume;
 * renaming the folders is the user's call.
 */
import path from 'node:path';
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

/** A folder's id: its name when that is a valid id, else the name cleaned. */
const folderId = (folder: string): string => (isValidId(folder) ? folder : folderToId(folder));

/** A folder name as a display name: control characters (a tab) become spaces, at most 200 characters; else the id. */
export function folderToName(folder: string, id: string): string {
  const cleaned = folder.replace(/[\p{Cc}\p{Cs}]/gu, ' ').trim();
  return cleaned ? Array.from(cleaned).slice(0, MAX_NAME_LENGTH).join('') : id;
}

/** What the store holds under an id: its display name and the folders its photos came from. */
export interface StoredIdentity {
  name: string;
  /** The name of each stored photo's folder (basename of its directory). */
  photoFolders: ReadonlySet<string>;
}

/** The store's identities as folderIdentities needs them, from its rows. */
export function storedIdentities(rows: readonly { id: string; name: string; sourcePath: string }[]): Map<string, StoredIdentity> {
  const out = new Map<string, { name: string; photoFolders: Set<string> }>();
  for (const r of rows) {
    let it = out.get(r.id);
    if (!it) out.set(r.id, (it = { name: r.name, photoFolders: new Set() }));
    it.name = r.name; // every row of an id carries one name; the latest wins if not
    it.photoFolders.add(path.basename(path.dirname(r.sourcePath)));
  }
  return out;
}

/**
 * Whether a folder is the store's identity `f.id`, decided by where its faces came from, not by its display
 * name (which `enroll <id> --name` changes, and which an import trims): it is when any of its photos came
 * from a folder of this name (an import, resumed). Otherwise, when any came from another folder that
 * cleans into the same id, that folder's person holds the id: a clash. Else a folder named exactly the id
 * is (the user named it so, e.g. for an id enrolled by hand); a cleaned one is not: facectl made that id up.
 */
function sameIdentity(f: FolderIdentity, stored: StoredIdentity): boolean {
  if (stored.photoFolders.has(f.folder)) return true;
  for (const folder of stored.photoFolders) if (folderId(folder) === f.id) return false;
  return f.folder === f.id;
}

/** Each folder's id and name; USAGE listing every clash (with each other or with the store) when ids collide. */
export function folderIdentities(folders: readonly string[], stored: ReadonlyMap<string, StoredIdentity>): FolderIdentity[] {
  const all = folders.map((folder): FolderIdentity => {
    const id = folderId(folder);
    return { folder, id, name: folderToName(folder, id) };
  });
  const byId = new Map<string, FolderIdentity[]>();
  for (const f of all) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
  const clashes: string[] = [];
  for (const [id, group] of byId) {
    const names = group.map((f) => JSON.stringify(f.folder)).join(' and ');
    const held = stored.get(id);
    if (group.length > 1) clashes.push(`folders ${names} → ${id}`);
    else if (held !== undefined && !sameIdentity(group[0]!, held)) clashes.push(`folder ${names} → ${id}, enrolled already as ${JSON.stringify(held.name)}`);
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
