#!/usr/bin/env node
// Entry point of the `ltxvfs` command: stdout for results, stderr for errors.
import { dispatch } from './dispatch.js';

// The AWS SDK warns in every process that its releases from 2027 need Node 22. The
// command supports Node 20 with the SDK version pinned in the lockfile: only noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`${line}\n`),
};

process.exitCode = await dispatch(process.argv.slice(2), io);
