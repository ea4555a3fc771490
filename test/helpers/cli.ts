/** Run the facectl CLI from source (through tsx) as a child process, the way a user runs it. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { repoRoot } from './shared.js';

export const CLI_ENTRY = `${repoRoot}/test/helpers/cli-entry.ts`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const args = (argv: string[]) => ['--import', 'tsx', CLI_ENTRY, ...argv];

/**
 * `input`: what the command reads on standard input (a photo for `-`); none by default. `timeoutMs`: a run
 * still going then is killed (code -1).
 */
export function runCli(argv: string[], env: NodeJS.ProcessEnv = {}, input?: Uint8Array, timeoutMs = 300_000): CliResult {
  const r = spawnSync(process.execPath, args(argv), { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs, input });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function runCliAsync(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(argv), { cwd: repoRoot, env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function spawnCli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, args(argv), { cwd: repoRoot, env: { ...process.env, ...env }, stdio: 'ignore' });
}

export interface HookedRun {
  child: ChildProcess;
  /** Resolves when the child has exited and its output is read. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Commit steps the child reported so far, in order. */
  steps(): string[];
  stdout(): string;
  stderr(): string;
}

/**
 * The CLI in a child that reports each store commit step on stdout and, with `killAt` ("step" or
 * "step:n"), SIGKILLs itself there (test/helpers/cli-hooked-entry.ts).
 */
/** `entry`: cli-hooked-entry.ts (store commit steps) or cli-pg-hooked-entry.ts (PostgreSQL transaction steps). */
export function spawnHookedCli(argv: string[], env: NodeJS.ProcessEnv = {}, killAt = '', entry = 'cli-hooked-entry.ts'): HookedRun {
  const child = spawn(process.execPath, ['--import', 'tsx', `${repoRoot}/test/helpers/${entry}`, ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env, FACECTL_TEST_KILL_AT: killAt },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  return { child, closed, steps: () => [...stdout.matchAll(/^step (\S+)$/gm)].map((m) => m[1]!), stdout: () => stdout, stderr: () => stderr };
}
