/**
 * Pack the checkout and install the tarball the way a user does (test/package/install.test.ts,
 * bench/install.ts). Packing runs in a copy of the checkout, so the prepack/postpack steps (which
 * rebuild dist/ and fill models/) never disturb tests running beside it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './shared.js';

/** Copies the files git knows (tracked, and untracked ones not ignored) to `dest`; node_modules is linked. */
export function copyCheckout(dest: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    const from = path.join(repoRoot, f);
    let stat;
    try {
      stat = lstatSync(from);
    } catch {
      continue; // deleted but not yet committed
    }
    if (!stat.isFile()) continue;
    mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    cpSync(from, path.join(dest, f));
  }
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
}

export interface PackResult {
  tarball: string;
  /** Bytes of the .tgz, of its files unpacked, and their count. */
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: string[];
  ms: number;
}

const npmEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra });

/** `npm pack` in `checkout` (prepack converts the models), tarball written to `outDir`. */
export function packTarball(checkout: string, outDir: string): PackResult {
  const t0 = performance.now();
  const r = spawnSync('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: checkout, env: npmEnv(), encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
  return { tarball: path.join(outDir, info!.filename), size: info!.size, unpackedSize: info!.unpackedSize, entryCount: info!.entryCount, files: info!.files.map((f) => f.path), ms };
}

/**
 * `npm install -g --prefix <prefix> <tarball>` for a CPU machine: ONNXRUNTIME_NODE_INSTALL=skip stops
 * onnxruntime-node's install script fetching CUDA files (README: Install); packages come from the npm
 * cache, else the registry.
 */
export function installTarball(tarball: string, prefix: string): { ms: number; packages: number; output: string } {
  const t0 = performance.now();
  const r = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], {
    env: npmEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
    encoding: 'utf8',
    timeout: 600_000,
  });
  const ms = performance.now() - t0;
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`npm install -g failed (${r.status}): ${output.slice(-2000)}`);
  return { ms, packages: Number(/added (\d+) packages?/.exec(output)?.[1] ?? NaN), output };
}

/** Bytes and file count under `dir` (symlinks not followed). */
export function dirSize(dir: string): { bytes: number; files: number } {
  let bytes = 0, files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += lstatSync(path.join(e.parentPath, e.name)).size;
    files++;
  }
  return { bytes, files };
}
