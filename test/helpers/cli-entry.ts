// Test entry: the CLI from source, exactly as bin/facectl runs the compiled one.
import { main } from '../../src/cli/main.js';

await main(process.argv);
