// Shared CLI plumbing: the command shape, argument parsing on node:util parseArgs,
// usage errors (exit 2), and the output streams a command writes to.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Io {
  out: (line: string) => void; // stdout, one line
  err: (line: string) => void; // stderr, one line
}

export interface Command {
  /** One line for the parent's command list. */
  summary: string;
  /** Full --help text. */
  help: string;
  /** Returns the exit code: 0 ok, 1 defect found or failure. Throws UsageError for 2. */
  run(args: string[], io: Io): Promise<number>;
}

export interface CommandGroup {
  summary: string;
  commands: Record<string, Command | CommandGroup>;
}

export function isGroup(c: Command | CommandGroup): c is CommandGroup {
  return 'commands' in c;
}

/** Bad invocation: printed as one line plus a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: { json?: boolean; help?: boolean; [option: string]: string | boolean | (string | boolean)[] | undefined };
  positionals: string[];
}

/** parseArgs with --help and --json built in; unknown options become UsageErrors. */
export function parseCommandArgs(args: string[], options: Options): ParsedArgs {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    // Node's message goes on about '--'; its first sentence is the useful part.
    throw new UsageError((err as Error).message.split('\n')[0].split('. ')[0]);
  }
}

/** JSON.stringify that writes bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** First line of an error's message, for one-line reports. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0];
}
