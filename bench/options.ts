/**
 * Option errors of the benchmarks, as `ixy` reports them: one line on stderr naming the script and what is wrong,
 * exit code 2, no stack trace.
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeParseArgsError } from '../src/util/parse-args-error.js';

/** Prints `<script>: <message>` and exits 2. */
export function optionError(message: string): never {
  const script = path.basename(process.argv[1] ?? 'bench', '.js');
  process.stderr.write(`${script}: ${message.split('\n')[0]}\n`);
  process.exit(2);
}

/** node:util parseArgs (strict unless the config says otherwise); an unknown option or a missing value is an option error. */
export function parseBenchArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    return optionError(describeParseArgsError((e as Error).message, 'see --help'));
  }
}

/** Runs `parse`, which reads and checks the options: whatever it throws is an option error. */
export function benchOptions<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    return optionError(`${e instanceof Error ? e.message : String(e)} (see --help)`);
  }
}
