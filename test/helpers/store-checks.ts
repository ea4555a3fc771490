/** Checks shared by the CLI and store tests: a store's bytes, documented error exits, commit steps. */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { type CliResult, runCli } from './cli.js';

/** sha256 of every store file except the index cache: "unchanged" means exactly this. */
export function storeState(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => !f.startsWith('index.'))
      .sort()
      .map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]),
  );
}

/**
 * Runs each command and checks its exit code, that its stderr is exactly one facectl error line (no
 * warning, stack trace or second line before or after it), and that the store's files are byte-for-byte
 * what they were before.
 */
export function expectErrorExits(cli: (...argv: string[]) => CliResult, store: string, cases: readonly [string[], number][]): void {
  const before = storeState(store);
  for (const [argv, code] of cases) {
    const r = cli(...argv);
    expect(r.code, `${argv.join(' ')} → ${r.stderr}`).toBe(code);
    // Parse errors once printed commander's 'error: …' and a '(run with --help …)' line; since 04aa434 they are
    // one 'facectl: … (run with --help for usage)' line like every other error, so nothing is left out here.
    const lines = r.stderr.trim().split('\n');
    expect(lines, argv.join(' ')).toHaveLength(1);
    expect(lines[0], argv.join(' ')).toMatch(/^facectl: /);
    expect(storeState(store), argv.join(' ')).toEqual(before);
  }
}

/** A CLI bound to its own copy of a base store, so tests do not depend on each other's runs or order. */
export function storeCopier(tmp: string, base: string, envFor: (store: string) => NodeJS.ProcessEnv) {
  return (name: string) => {
    const store = path.join(tmp, name);
    cpSync(base, store, { recursive: true });
    return { store, cli: (...argv: string[]) => runCli(argv, envFor(store)) };
  };
}

/**
 * The store's commit steps in order, with the state a kill at that step must leave: before the journal
 * ("committed") the old state survives; from it on the commit is durable and the next open rolls forward.
 */
export const COMMIT_STEPS: readonly [string, 'old' | 'new'][] = [
  ['staged:data.csv', 'old'],
  ['staged:embeddings.f32', 'old'],
  ['staged:manifest.json', 'old'],
  ['committed', 'new'],
  ['renamed:data.csv', 'new'],
  ['renamed:embeddings.f32', 'new'],
  ['renamed:manifest.json', 'new'],
  ['journal-removed', 'new'],
];
