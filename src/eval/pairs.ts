/**
 * Verification protocols: which image pairs to compare, whether each is the same person,
 * and which of the cross-validation folds it belongs to.
 *
 * LFW `pairs.txt` format (whitespace-separated, tabs in the official files):
 *   header      `10  300`  (View 2: 10 folds, each 300 same then 300 different pairs)
 *               `1100`     (official View 1 files: one fold of 1100 same + 1100 different)
 *               or none    (copies without the count line: parsed as one fold)
 *   same        `Name  i  j`          -> Name/Name_000i.jpg vs Name/Name_000j.jpg
 *   different   `Name1  i  Name2  j`  -> Name1/Name1_000i.jpg vs Name2/Name2_000j.jpg
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError, quoted } from '../errors.js';
import { fileKind } from '../file-kind.js';

export interface ImagePair {
  /** Image paths relative to the dataset root, '/'-separated. */
  a: string;
  b: string;
  /** True for a genuine (same identity) pair. */
  same: boolean;
  /** 0-based cross-validation fold. */
  fold: number;
}

export interface PairGenerationInfo {
  seed: number;
  genuinePerIdentity: number;
  /** True when every fold's pairs use only that fold's identities. */
  identityDisjointFolds: boolean;
  /** Folds whose impostors had to be drawn from all identities (fewer than 2 identities in the fold). */
  foldsWithGlobalImpostors: number[];
  identitiesUsed: number;
}

export interface PairProtocol {
  source: 'pairs-file' | 'generated';
  /** One line for reports, e.g. "LFW pairs.txt: 10 folds, 3000 genuine + 3000 impostor pairs". */
  description: string;
  foldCount: number;
  pairs: ImagePair[];
  /** The pairs file, when source is 'pairs-file' (absolute when read from disk). */
  file?: string;
  /** sha256 of the pairs file's bytes, when read from disk: which protocol the figures are for. */
  sha256?: string;
  generation?: PairGenerationInfo;
}

/** LFW file naming: `Name/Name_0001.jpg` (index zero-padded to 4 digits). */
export function lfwImagePath(name: string, index: number): string {
  return `${name}/${name}_${String(index).padStart(4, '0')}.jpg`;
}

const INTEGER = /^\d+$/;

/** The longest excerpt of a line an error quotes. */
const EXCERPT_CHARS = 60;

/** Part of the file quoted in an error (a photo given as --pairs put raw bytes, NUL included, on the terminal). */
export const quoteExcerpt = (text: string): string => quoted(text, EXCERPT_CHARS);

function parseIndex(token: string, lineNo: number, label: string, line: string): number {
  const n = Number(token);
  if (!INTEGER.test(token) || !Number.isSafeInteger(n) || n < 1) {
    throw new FacectlError(ExitCode.USAGE, `line ${lineNo}: image number ${quoteExcerpt(token)} is not a positive integer in ${quoteExcerpt(line)}`, label);
  }
  return n;
}

interface Header {
  folds: number;
  pairsPerClassPerFold: number;
}

function parseHeader(tokens: string[]): Header | null {
  if (tokens.length === 0 || tokens.length > 2 || !tokens.every((t) => INTEGER.test(t))) return null;
  const nums = tokens.map(Number);
  return tokens.length === 2
    ? { folds: nums[0]!, pairsPerClassPerFold: nums[1]! }
    : { folds: 1, pairsPerClassPerFold: nums[0]! };
}

/**
 * Parse an LFW-style pairs file. `label` (usually the file path) prefixes every error message,
 * which also names the 1-based line number of the bad line.
 */
export function parseLfwPairs(text: string, label = 'pairs.txt'): PairProtocol {
  const lines = text.split(/\r?\n/);
  let header: Header | null = null;
  let headerLine = 0;
  const parsed: { a: string; b: string; same: boolean; line: number }[] = [];

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const tokens = line.split(/\s+/);
    const lineNo = i + 1;
    if (parsed.length === 0 && headerLine === 0) {
      const h = parseHeader(tokens);
      if (h) {
        if (h.folds < 1 || h.pairsPerClassPerFold < 1) {
          throw new FacectlError(ExitCode.USAGE, `line ${lineNo}: header ${quoteExcerpt(line)} must give positive counts`, label);
        }
        header = h;
        headerLine = lineNo;
        continue;
      }
    }
    // A name is one folder of the dataset: `../x` or `a/b` would read photos outside it.
    const names = tokens.length === 3 ? [tokens[0]!] : tokens.length === 4 ? [tokens[0]!, tokens[2]!] : [];
    const outside = names.find((n) => n === '.' || n === '..' || /[/\\]/.test(n));
    if (outside !== undefined) throw new FacectlError(ExitCode.USAGE, `line ${lineNo}: ${quoteExcerpt(outside)} is not a person's folder name (no "/", "\\", "." or "..")`, label);
    if (tokens.length === 3) {
      const [name, i1, i2] = tokens as [string, string, string];
      parsed.push({
        a: lfwImagePath(name, parseIndex(i1, lineNo, label, line)),
        b: lfwImagePath(name, parseIndex(i2, lineNo, label, line)),
        same: true,
        line: lineNo,
      });
    } else if (tokens.length === 4) {
      const [n1, i1, n2, i2] = tokens as [string, string, string, string];
      if (n1 === n2) {
        throw new FacectlError(ExitCode.USAGE, `line ${lineNo}: a different-person line names ${quoteExcerpt(n1)} twice`, label);
      }
      parsed.push({
        a: lfwImagePath(n1, parseIndex(i1, lineNo, label, line)),
        b: lfwImagePath(n2, parseIndex(i2, lineNo, label, line)),
        same: false,
        line: lineNo,
      });
    } else {
      throw new FacectlError(
        ExitCode.USAGE,
        `line ${lineNo}: expected "Name i j" (same person) or "Name1 i Name2 j" (different people), got ${quoteExcerpt(line)}`,
        label,
      );
    }
  }

  if (parsed.length === 0) throw new FacectlError(ExitCode.USAGE, 'no pairs found', label);

  let perFold = parsed.length;
  let foldCount = 1;
  if (header) {
    const expected = header.folds * 2 * header.pairsPerClassPerFold;
    if (parsed.length !== expected) {
      throw new FacectlError(
        ExitCode.USAGE,
        `header (line ${headerLine}) promises ${header.folds} fold(s) x ${header.pairsPerClassPerFold} same + ` +
          `${header.pairsPerClassPerFold} different pairs = ${expected} pairs, but the file has ${parsed.length}`,
        label,
      );
    }
    foldCount = header.folds;
    perFold = 2 * header.pairsPerClassPerFold;
    refuseFoldLayout(parsed, header, label);
  }

  const pairs = parsed.map(({ line: _line, ...p }, i) => ({ ...p, fold: Math.floor(i / perFold) }));
  const genuine = pairs.filter((p) => p.same).length;
  return {
    source: 'pairs-file',
    description:
      `${path.basename(label)}: ${foldCount} fold(s), ${genuine} genuine + ${pairs.length - genuine} impostor pairs` +
      (header ? '' : ' (no count line: one fold)'),
    foldCount,
    pairs,
    file: label,
  };
}

/**
 * With a count line, LFW's layout: each fold is N same-person lines then N different-person lines. The total
 * alone would accept "2 2" then 4 same and 4 different lines: fold 1 all genuine, fold 2 all impostors, each
 * fold's threshold fitted on the other, and a meaningless accuracy. USAGE, naming the fold and the first line out of place.
 */
function refuseFoldLayout(parsed: readonly { same: boolean; line: number }[], header: Header, label: string): void {
  const n = header.pairsPerClassPerFold;
  parsed.forEach((p, i) => {
    const fold = Math.floor(i / (2 * n));
    const wantSame = i % (2 * n) < n;
    if (p.same !== wantSame)
      throw new FacectlError(
        ExitCode.USAGE,
        `line ${p.line}: fold ${fold + 1} must hold ${n} same-person lines then ${n} different-person lines (the count line's layout), ` +
          `but this ${p.same ? 'same' : 'different'}-person line is where a ${wantSame ? 'same' : 'different'}-person one belongs`,
        label,
      );
  });
}

/** Read and parse a pairs file; NOT_FOUND when it is missing or unreadable, USAGE when it is a folder or no regular file (a FIFO would block). */
export function readPairsFile(file: string): PairProtocol {
  const kind = statSync(file, { throwIfNoEntry: false });
  if (kind?.isDirectory()) throw new FacectlError(ExitCode.USAGE, '--pairs names a folder, not a pairs file', file);
  if (kind && !kind.isFile()) throw new FacectlError(ExitCode.USAGE, `--pairs names ${fileKind(kind)}, not a pairs file`, file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FacectlError(ExitCode.NOT_FOUND, code === 'ENOENT' ? 'pairs file not found' : `cannot read pairs file (${code})`, file);
  }
  const protocol = parseLfwPairs(bytes.toString('utf8'), file);
  return { ...protocol, file: path.resolve(file), sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The pairs file to use: the explicit `--pairs` file (which must exist), else `<root>/pairs.txt`
 * when present, else null (pairs are then generated).
 */
export function findPairsFile(datasetRoot: string, explicit?: string): string | null {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw new FacectlError(ExitCode.NOT_FOUND, 'pairs file not found', explicit);
    return explicit;
  }
  const candidate = path.join(datasetRoot, 'pairs.txt');
  return existsSync(candidate) && statSync(candidate).isFile() ? candidate : null;
}

/** Images named by the protocol that do not exist under the dataset root (unique, in first-seen order). */
export function findMissingPairImages(protocol: PairProtocol, datasetRoot: string): string[] {
  const seen = new Set<string>();
  const missing: string[] = [];
  for (const p of protocol.pairs) {
    for (const img of [p.a, p.b]) {
      if (seen.has(img)) continue;
      seen.add(img);
      if (!existsSync(path.join(datasetRoot, img))) missing.push(img);
    }
  }
  return missing;
}

/** Every distinct image a protocol needs, in first-use order (the set of images to embed). */
export function imagesOfPairs(pairs: readonly ImagePair[]): string[] {
  const seen = new Set<string>();
  for (const p of pairs) {
    seen.add(p.a);
    seen.add(p.b);
  }
  return [...seen];
}
