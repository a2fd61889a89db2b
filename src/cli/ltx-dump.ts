// `ltxvfs ltx dump <file>`: header, page frames, index and trailer of one LTX file.

import { type Command, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';
import { HEADER_FLAG_NO_CHECKSUM, hex64, isSnapshot } from '../ltx/index.js';
import { isoTime, readLtxFile } from './ltx-read.js';

export const ltxDump: Command = {
  summary: 'Print the header, page frames, index and trailer of an LTX file',
  help: `Print the header, page frames, index and trailer of one LTX file.
The file is decoded strictly first; a defective file prints one error line and exits 1.

Usage: ltxvfs ltx dump [--json] <file>

Options:
  --json      one JSON object (u64 fields as decimal strings, checksums as 16 hex digits)
  -h, --help  this text

Example:
  ltxvfs ltx dump replica/ltx/0/0000000000000001-0000000000000001.ltx`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new UsageError(`expected one file, got ${positionals.length}`);
    const file = positionals[0];
    const { summary: s, pageSha256 } = await readLtxFile(file, true);
    const h = s.header;
    const frames = s.frames.map((f, i) => ({ ...f, sha256: pageSha256[i] }));
    if (values.json) {
      io.out(
        toJson({
          file,
          size: s.fileSize,
          header: { ...h, preApplyChecksum: hex64(h.preApplyChecksum), nodeID: hex64(h.nodeID), time: isoTime(h.timestamp) },
          encoding: s.encoding,
          frames,
          index: { offset: s.indexOffset, size: s.indexSize, entries: s.frames.length },
          trailer: { postApplyChecksum: hex64(s.trailer.postApplyChecksum), fileChecksum: hex64(s.trailer.fileChecksum) },
        }),
      );
      return EXIT_OK;
    }
    const flags = h.flags & HEADER_FLAG_NO_CHECKSUM ? 'NoChecksum' : 'checksums on';
    io.out(`file       ${file} (${s.fileSize} bytes)`);
    io.out(`kind       ${isSnapshot(h) ? 'snapshot' : 'incremental'}, txid ${h.minTXID}-${h.maxTXID}`);
    io.out(`flags      0x${h.flags.toString(16)} (${flags})`);
    io.out(`page size  ${h.pageSize} bytes`);
    io.out(`commit     ${h.commit} pages`);
    io.out(`timestamp  ${h.timestamp} (${isoTime(h.timestamp) ?? 'out of range'})`);
    io.out(`pre-apply  ${hex64(h.preApplyChecksum)}`);
    io.out(`wal        offset ${h.walOffset}, size ${h.walSize}, salts ${h.walSalt1.toString(16).padStart(8, '0')} ${h.walSalt2.toString(16).padStart(8, '0')}`);
    io.out(`node id    ${hex64(h.nodeID)}`);
    io.out(`pages      ${frames.length} frames, encoding ${s.encoding}`);
    if (frames.length > 0) {
      io.out(`  ${'pgno'.padStart(11)} ${'offset'.padStart(11)} ${'size'.padStart(7)} ${'payload'.padStart(8)}  sha256 (first 16)`);
      for (const f of frames) {
        const payload = f.compressedSize === null ? 'frame' : String(f.compressedSize);
        io.out(`  ${String(f.pgno).padStart(11)} ${String(f.offset).padStart(11)} ${String(f.size).padStart(7)} ${payload.padStart(8)}  ${f.sha256.slice(0, 16)}`);
      }
    }
    io.out(`index      offset ${s.indexOffset}, ${s.indexSize} bytes, ${s.frames.length} entries (matches the frames)`);
    io.out(`post-apply ${hex64(s.trailer.postApplyChecksum)}`);
    io.out(`checksum   ${hex64(s.trailer.fileChecksum)} (verified)`);
    return EXIT_OK;
  },
};
