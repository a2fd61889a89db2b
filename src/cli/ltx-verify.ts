// `ltxvfs ltx verify <file>...`: strict decode of each file, one line per file.

import { basename } from 'node:path';
import { type Command, EXIT_FAIL, EXIT_OK, UsageError, oneLine, parseCommandArgs, toJson } from './args.js';
import { LtxError, type LtxSummary, parseLtxFilename } from '../ltx/index.js';
import { readLtxFile } from './ltx-read.js';

interface Verdict {
  file: string;
  ok: boolean;
  minTXID?: string;
  maxTXID?: string;
  pages?: number;
  code?: string;
  error?: string;
  warnings: string[];
}

async function verifyOne(file: string): Promise<Verdict> {
  let s: LtxSummary;
  try {
    s = (await readLtxFile(file)).summary;
  } catch (err) {
    const code = err instanceof LtxError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'ERROR');
    return { file, ok: false, code, error: oneLine(err), warnings: [] };
  }
  const v: Verdict = { file, ok: true, minTXID: String(s.header.minTXID), maxTXID: String(s.header.maxTXID), pages: s.frames.length, warnings: [] };
  const named = parseLtxFilename(basename(file));
  if (named && (named.minTXID !== s.header.minTXID || named.maxTXID !== s.header.maxTXID)) {
    return { ...v, ok: false, code: 'LTX_NAME_MISMATCH', error: `file name says txid ${named.minTXID}-${named.maxTXID}, header says ${v.minTXID}-${v.maxTXID}` };
  }
  if (s.encoding === 'mixed') v.warnings.push('mixes both page encodings (no reference writer does this)');
  return v;
}

export const ltxVerify: Command = {
  summary: 'Check LTX files strictly (checksums, index, page order, LZ4, trailer)',
  help: `Check LTX files strictly: every header rule, page order and bounds, each LZ4
block or legacy LZ4 frame, the index against the frames, the trailer rules, the file
checksum, a snapshot's post-apply checksum, and that a <min>-<max>.ltx name matches
the header. Prints one line per file and exits 1 if any file fails.

Usage: ltxvfs ltx verify [--json] <file>...

Options:
  --json      a JSON array, one object per file: file, ok, minTXID, maxTXID, pages, code, error
  -h, --help  this text

Example:
  ltxvfs ltx verify replica/ltx/0/*.ltx
  ok  replica/ltx/0/0000000000000001-0000000000000001.ltx  txid 1-1  3 pages`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (positionals.length === 0) throw new UsageError('expected at least one file');
    const verdicts: Verdict[] = [];
    for (const file of positionals) {
      const v = await verifyOne(file);
      verdicts.push(v);
      if (values.json) continue;
      if (v.ok) {
        io.out(`ok  ${file}  txid ${v.minTXID}-${v.maxTXID}  ${v.pages} ${v.pages === 1 ? 'page' : 'pages'}`);
        for (const w of v.warnings) io.err(`warning: ${file}: ${w}`);
      } else {
        io.out(`FAIL ${file}: ${v.error}`);
      }
    }
    if (values.json) io.out(toJson(verdicts));
    return verdicts.every((v) => v.ok) ? EXIT_OK : EXIT_FAIL;
  },
};
