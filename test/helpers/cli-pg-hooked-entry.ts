// Test entry: the CLI from source with the PostgreSQL gallery's transaction hooks wired to the environment.
//   every step is written to stdout as "step <name>" (synchronously)
//   FACECTL_TEST_KILL_AT=<step>  SIGKILL this process the first time <step> is reached (mid-transaction)
import { writeSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { pgTestHooks } from '../../src/gallery/postgres/draft.js';

pgTestHooks.onStep = (name) => {
  writeSync(1, `step ${name}\n`);
  if (name === process.env.FACECTL_TEST_KILL_AT) process.kill(process.pid, 'SIGKILL');
};

await main(process.argv);
