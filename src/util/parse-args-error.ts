/** node:util parseArgs's errors (several lines, its own wording) as one line that says what to type instead. */
export function describeParseArgsError(message: string, seeHelp: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message);
  const missing = /Option '(--[^ ']+)[^']*' argument missing/.exec(message);
  const unexpected = /Unexpected argument '([^']+)'/.exec(message);
  if (unknown) return `unknown option '${unknown[1]}' (${seeHelp})`;
  if (ambiguous) return `${ambiguous[1]} needs a value; write a value starting with '-' as ${ambiguous[1]}=VALUE`;
  if (missing) return `${missing[1]} needs a value (${seeHelp})`;
  if (unexpected) return `unexpected argument '${unexpected[1]}': this takes options only (${seeHelp})`;
  return `${message.split('\n')[0]} (${seeHelp})`;
}
