/** Where the benchmarks write their figures and find the CLI, from dist/bench/ once compiled. */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** bench/results/ of the source tree (committed figures). */
export const RESULTS_DIR = path.resolve(HERE, '../../bench/results');
/** The compiled `ixy` CLI. */
export const IXY_CLI = path.resolve(HERE, '../src/cli/main.js');
