/**
 * A running `facectl serve` (from source, through tsx) for tests: each request resolves with the next
 * answer line. It rejects, instead of stalling the test, when no answer comes within `timeoutMs` (a service
 * that hangs or swallows requests), when the answer is not JSON, or when the service exits first: then every
 * request still waiting, and every later one, rejects at once with its exit status and stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI_ENTRY } from './cli.js';
import { repoRoot } from './shared.js';

export type Answer = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ServeClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private closedWith: Error | null = null;
  readonly exited: Promise<number | null>;
  stderr = '';
  /** Answer lines that came with no request waiting for them. */
  readonly unexpected: string[] = [];

  constructor(argv: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'serve', ...argv], { cwd: repoRoot, env: { ...process.env, ...env } });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdin.on('error', () => undefined); // a write after the service died: reported by 'close' below
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      const next = this.pending.shift();
      if (next) next.resolve(line);
      else this.unexpected.push(line);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        // 'close' comes after stdout has ended, so every answer line was handed out before this.
        this.closedWith = new Error(`facectl serve exited (code ${code}, signal ${signal}) with no answer; stderr:\n${this.stderr}`);
        for (const p of this.pending.splice(0)) p.reject(this.closedWith);
        resolve(code);
      }),
    );
  }

  /** Sends one request line (an object is JSON-encoded) and waits for its answer. */
  request(body: unknown, timeoutMs = 180_000): Promise<Answer> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms to ${text.slice(0, 200)}; stderr:\n${this.stderr}`)), timeoutMs);
      this.pending.push({
        resolve: (line) => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(line));
          } catch {
            reject(new Error(`facectl serve answered a line that is not JSON: ${line.slice(0, 200)}\nstderr:\n${this.stderr}`));
          }
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.stdin.write(`${text}\n`);
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
