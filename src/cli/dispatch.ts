// Walk the command table by argv, print help at any level, map errors to exit codes.

import { type Command, type CommandGroup, EXIT_FAIL, EXIT_OK, EXIT_USAGE, type Io, UsageError, isGroup, oneLine } from './args.js';
import { root } from './commands.js';

const PROG = 'ltxvfs';

function groupHelp(path: string[], group: CommandGroup): string {
  const name = [PROG, ...path].join(' ');
  const width = Math.max(...Object.keys(group.commands).map((k) => k.length));
  const lines = Object.entries(group.commands).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`);
  return [
    group.summary,
    '',
    `Usage: ${name} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    `Run '${name} <command> --help' for a command's options and examples.`,
    'Exit codes: 0 ok, 1 defect found or failure, 2 usage error.',
  ].join('\n');
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function dispatch(argv: string[], io: Io): Promise<number> {
  let node: Command | CommandGroup = root;
  const path: string[] = [];
  let rest = argv;
  while (isGroup(node)) {
    const [head, ...tail] = rest;
    if (head === undefined || head === '--help' || head === '-h' || head === 'help') {
      const text = groupHelp(path, node);
      if (head === undefined) {
        io.err(text);
        return EXIT_USAGE;
      }
      io.out(text);
      return EXIT_OK;
    }
    const next: Command | CommandGroup | undefined = Object.hasOwn(node.commands, head) ? node.commands[head] : undefined;
    if (!next) {
      io.err(`${PROG}: unknown command '${[...path, head].join(' ')}'. Run '${[PROG, ...path].join(' ')} --help' for the list.`);
      return EXIT_USAGE;
    }
    path.push(head);
    node = next;
    rest = tail;
  }
  const name = [PROG, ...path].join(' ');
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(node.help);
    return EXIT_OK;
  }
  try {
    return await node.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${name}: ${err.message}. Run '${name} --help' for usage.`);
      return EXIT_USAGE;
    }
    io.err(`${name}: ${oneLine(err)}`);
    return EXIT_FAIL;
  }
}
