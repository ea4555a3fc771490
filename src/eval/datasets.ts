/**
 * Folder-per-identity datasets: `<root>/<identity>/<image>`.
 * Files directly in the root (pairs.txt, README, SOURCE.md) are protocol or documentation
 * files, never images. Inside an identity folder every regular file is kept except obvious
 * non-images; whether a file really is an image is decided later, by content, when it is
 * decoded (a failure there is reported per image, not here).
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError, quoted } from '../errors.js';

export interface IdentityImages {
  /** The folder name, used as the identity label. */
  name: string;
  /** Image paths relative to the dataset root, '/'-separated, in natural order (2.pgm before 10.pgm). */
  images: string[];
}

export interface FolderDataset {
  /** Absolute path of the dataset root. */
  root: string;
  /** Base name of the root folder, used in report names. */
  name: string;
  /** Identities with at least one image, sorted by name (natural order). */
  identities: IdentityImages[];
  /** Identity folders that held no image files (reported, not evaluated). */
  emptyIdentities: string[];
  /**
   * Entries inside identity folders that are not taken and could be photos: subfolders (`<identity>/<sub>/`,
   * photos there are not read) and entries that are neither file nor folder (a dangling link, a FIFO).
   * Relative to the root, '/'-separated. Obvious non-images (README, .txt, dotfiles) are not listed.
   */
  ignoredEntries: string[];
  imageCount: number;
}

/** Extensions that are never images (documentation, protocol files, archives, scripts). */
const NON_IMAGE_EXTENSIONS = new Set([
  '.txt', '.md', '.json', '.csv', '.tsv', '.yaml', '.yml', '.xml', '.html', '.htm', '.pdf',
  '.zip', '.gz', '.tgz', '.tar', '.7z', '.py', '.sh', '.js', '.ts', '.db', '.ini', '.sha256', '.mat',
]);
const NON_IMAGE_NAMES = /^(readme|license|licence|copying|source|notice|thumbs\.db|desktop\.ini)(\..*)?$/i;

/** True when a file name is obviously not an image (dotfile, README, text, archive...). */
export function isObviousNonImage(fileName: string): boolean {
  if (fileName.startsWith('.')) return true;
  if (NON_IMAGE_NAMES.test(fileName)) return true;
  return NON_IMAGE_EXTENSIONS.has(path.extname(fileName).toLowerCase());
}

/**
 * Natural order: digit runs compare as numbers ("s2" < "s10", "2.pgm" < "10.pgm"), everything
 * else by UTF-16 code unit, so the order never depends on the machine's locale.
 */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const xDigits = /^\d/.test(x);
    const yDigits = /^\d/.test(y);
    if (xDigits && yDigits) {
      const diff = Number(x) - Number(y);
      if (diff !== 0) return diff;
      // Same value, different zero padding ("01" vs "1"): shorter first, for a total order.
      if (x.length !== y.length) return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function readDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FacectlError(ExitCode.NOT_FOUND, 'dataset folder not found', dir);
    if (code === 'ENOTDIR') throw new FacectlError(ExitCode.USAGE, 'dataset path is a file; expected a folder of <identity>/<image>', dir);
    throw new FacectlError(ExitCode.NOT_FOUND, `cannot read folder (${code ?? String(e)})`, dir);
  }
}

/** Directory entry kind, following symbolic links (a linked folder or image counts as one). */
function kindOf(dir: string, entry: Dirent): 'file' | 'dir' | 'other' {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (entry.isSymbolicLink()) {
    try {
      const st = statSync(path.join(dir, entry.name));
      return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    } catch {
      return 'other'; // dangling link
    }
  }
  return 'other';
}

/**
 * Scan `<root>/<identity>/<image>`. Nested folders inside an identity folder are ignored
 * (they are usually extra material, not more photos of that person).
 * Throws NOT_FOUND when the root is missing, USAGE when it holds no identity folder.
 */
export function scanIdentityFolders(root: string): FolderDataset {
  const absRoot = path.resolve(root);
  const identityDirs = readDir(absRoot)
    .filter((e) => !e.name.startsWith('.') && kindOf(absRoot, e) === 'dir')
    .map((e) => e.name)
    .sort(naturalCompare);

  const identities: IdentityImages[] = [];
  const emptyIdentities: string[] = [];
  const ignoredEntries: string[] = [];
  for (const name of identityDirs) {
    const dir = path.join(absRoot, name);
    const files: string[] = [];
    for (const e of readDir(dir)) {
      if (isObviousNonImage(e.name)) continue;
      if (kindOf(dir, e) === 'file') files.push(e.name);
      else ignoredEntries.push(`${name}/${e.name}`);
    }
    const images = files.sort(naturalCompare).map((file) => `${name}/${file}`);
    if (images.length > 0) identities.push({ name, images });
    else emptyIdentities.push(name);
  }
  ignoredEntries.sort(naturalCompare);
  if (identities.length === 0) {
    throw new FacectlError(
      ExitCode.USAGE,
      'no identity folders with images found; expected <dataset>/<identity>/<image>',
      absRoot,
    );
  }
  const imageCount = identities.reduce((n, id) => n + id.images.length, 0);
  return { root: absRoot, name: path.basename(absRoot), identities, emptyIdentities, ignoredEntries, imageCount };
}

/**
 * "2 empty identity folders (first: "Zoe"); 1 entry inside identity folders that is no photo file (first:
 * "Ann/more")": photos a user may think were evaluated (a person's photos one folder deeper) are named, not
 * dropped silently (eval, bulk enroll). Null when there are none.
 */
export function leftOutOfScan(dataset: FolderDataset): string | null {
  const parts: string[] = [];
  const { emptyIdentities: empty, ignoredEntries: ignored } = dataset;
  if (empty.length) parts.push(`${empty.length} empty identity folder${empty.length === 1 ? '' : 's'} (first: ${quoted(empty[0]!)})`);
  if (ignored.length)
    parts.push(`${ignored.length} ${ignored.length === 1 ? 'entry' : 'entries'} inside identity folders that ${ignored.length === 1 ? 'is' : 'are'} no photo file: subfolders are not read (first: ${quoted(ignored[0]!)})`);
  return parts.length ? parts.join('; ') : null;
}

/** All image paths of a dataset in scan order, each with its identity. */
export function listImages(dataset: FolderDataset): { identity: string; image: string }[] {
  return dataset.identities.flatMap((id) => id.images.map((image) => ({ identity: id.name, image })));
}
