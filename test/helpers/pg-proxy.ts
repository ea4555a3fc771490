/**
 * A front for a test PostgreSQL server (pg-proxy-main.ts in a child process): one that checks a password
 * (PGlite takes any), and one whose network can be frozen under a connected client.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './shared.js';

export interface PgProxy {
  /** `upstreamUrl` with this proxy's port and `userinfo` (e.g. "postgres:secret") in place of its own. */
  url(userinfo?: string): string;
  /** Every password a client sent so far. */
  passwords: string[];
  freeze(): Promise<void>;
  /** Holds only what the server sends: statements still reach it. */
  freezeAnswers(): Promise<void>;
  thaw(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPgProxy(upstreamUrl: string, options: { password?: string } = {}): Promise<PgProxy> {
  const upstream = new URL(upstreamUrl);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/helpers/pg-proxy-main.ts'), '--upstream', upstream.port, ...(options.password ? ['--password', options.password] : [])], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const closed = new Promise((resolve) => child.on('close', resolve));
  const passwords: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let port: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.on('close', (code) => reject(new Error(`pg proxy exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, rest] = [line.split(' ')[0], line.slice(line.indexOf(' ') + 1)];
      if (word === 'port') {
        port = rest;
        resolve();
      } else if (word === 'password') passwords.push(JSON.parse(rest));
      else waiting.shift()?.(line);
    });
  });
  await ready;
  const command = (line: string) =>
    new Promise<void>((resolve) => {
      waiting.push(() => resolve());
      child.stdin!.write(`${line}\n`);
    });
  return {
    url: (userinfo) => {
      const u = new URL(upstreamUrl);
      u.port = port!;
      const [user, pw] = (userinfo ?? `${u.username}:${u.password}`).split(':');
      u.username = user ?? '';
      u.password = pw ?? '';
      return u.href;
    },
    passwords,
    freeze: () => command('freeze'),
    freezeAnswers: () => command('freeze-answers'),
    thaw: () => command('thaw'),
    stop: async () => {
      child.stdin!.end();
      await closed;
    },
  };
}
