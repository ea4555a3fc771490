/** Run the facectl CLI from source (through tsx) as a child process, the way a user runs it. */
import { spawn, spawnSync } from 'node:child_process';
import { repoRoot } from './shared.js';

export const CLI_ENTRY = `${repoRoot}/test/helpers/cli-entry.ts`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const args = (argv: string[]) => ['--import', 'tsx', CLI_ENTRY, ...argv];

export function runCli(argv: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, args(argv), { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
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
