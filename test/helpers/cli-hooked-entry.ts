// Test entry: the CLI from source with the store's commit hooks wired to the environment, so a test
// knows how far a commit got and can kill the real command at an exact point of it.
//   every commit step is written to stdout as "step <name>" (synchronously: it is out before the next step)
//   FACECTL_TEST_KILL_AT=<step>[:<n>]  SIGKILL this process the n-th time (default 1st) <step> is reached
import { writeSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { storeTestHooks } from '../../src/store/fsio.js';

// Step names contain ':' themselves (staged:data.csv): the count is a trailing ":<digits>".
const [, killStep = '', killCount = '1'] = /^(.*?)(?::(\d+))?$/.exec(process.env.FACECTL_TEST_KILL_AT ?? '') ?? [];
let seen = 0;
storeTestHooks.onStep = (name) => {
  writeSync(1, `step ${name}\n`);
  if (name === killStep && ++seen === Number(killCount)) process.kill(process.pid, 'SIGKILL');
};

await main(process.argv);
