#!/usr/bin/env node
// Entry point of the `ltxvfs` command: stdout for results, stderr for errors.
import { dispatch } from './dispatch.js';

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`${line}\n`),
};

process.exitCode = await dispatch(process.argv.slice(2), io);
