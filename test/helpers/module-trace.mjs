// `node --import ./test/helpers/module-trace.mjs …`: appends the URL of every module the process loads
// (ES modules, and CommonJS packages imported from them) to the file named by FACECTL_TEST_MODULE_TRACE.
import { register } from 'node:module';

register('./module-trace-hooks.mjs', import.meta.url, { data: { file: process.env.FACECTL_TEST_MODULE_TRACE } });
