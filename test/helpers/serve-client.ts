/**
 * A running `facectl serve` (from source, through tsx) for tests: each request resolves with the next
 * answer line, or rejects when none comes within `timeoutMs` (a service that hangs or swallows requests
 * fails the test instead of stalling it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI_ENTRY } from './cli.js';
import { repoRoot } from './shared.js';

export type Answer = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ServeClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: ((line: string) => void)[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';
  /** Answer lines that came with no request waiting for them. */
  readonly unexpected: string[] = [];

  constructor(argv: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'serve', ...argv], { cwd: repoRoot, env: { ...process.env, ...env } });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdin.on('error', () => undefined); // a service that exited early: its exit code is the answer
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      const next = this.pending.shift();
      if (next) next(line);
      else this.unexpected.push(line);
    });
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
  }

  /** Sends one request line (an object is JSON-encoded) and waits for its answer. */
  request(body: unknown, timeoutMs = 30_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms to ${String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 200)}`)), timeoutMs);
      this.pending.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      });
      this.child.stdin.write(`${typeof body === 'string' ? body : JSON.stringify(body)}\n`);
    });
  }

  /** Ends its input and waits for its exit code. */
  async end(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
