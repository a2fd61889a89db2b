// `ltxvfs restore <replica-url> -o <file> [--txid N | --timestamp T]`: rebuild a database locally.
import { loadConfig } from '../config.js';
import { openReplicaStore, restore } from '../replica/index.js';
import { type Command, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';
import { formatBytes, progressLine } from './progress.js';

/** Decimal, 0x-prefixed hex, or exactly 16 hex digits (how Litestream prints TXIDs). */
export function parseTxid(v: string): bigint {
  const s = v.trim();
  let n: bigint | undefined;
  if (/^[0-9a-fA-F]{16}$/.test(s)) n = BigInt(`0x${s}`);
  else if (/^0x[0-9a-fA-F]{1,16}$/.test(s)) n = BigInt(s);
  else if (/^\d{1,20}$/.test(s)) n = BigInt(s);
  if (n === undefined || n < 1n || n >= 1n << 64n) throw new UsageError(`--txid ${JSON.stringify(v)} is not a TXID: use a decimal number, 0x-hex, or 16 hex digits`);
  return n;
}

export const restoreCommand: Command = {
  summary: 'Rebuild a database from a replica into a local file (latest, or at a TXID or time)',
  help: `Rebuild the database from a replica: the newest snapshot at or before the target,
then the contiguous chain of LTX files after it (higher levels first). Files are fetched
in parallel and decoded strictly; the result must match the last file's checksum (unless
the files carry none, as Litestream's do) and pass PRAGMA integrity_check. It is written
to a temp file beside the output and renamed into place only then, so a failed restore
leaves nothing at the output path.

Usage: ltxvfs restore <replica-url> -o <file> [--txid N | --timestamp T] [--force] [--json]

Options:
  -o, --output FILE   where to write the database (refused if it exists, unless --force)
  --txid N            the state after transaction N (decimal, 0x-hex, or 16 hex digits)
  --timestamp T       the state of the last file written at or before T (RFC3339, e.g. 2026-11-24T09:00:00Z)
  --force             replace an existing output file (and its -journal, -wal, -shm)
  --json              print the result as JSON
  -h, --help          this text

Progress goes to stderr when it is a terminal; the summary to stdout:
  restored file:///var/replicas/app at txid 42 to app.db: 365 pages (1495040 bytes), 4 files (497 kB), 6 requests, 95 ms, checksum ok, integrity ok`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      output: { type: 'string', short: 'o' },
      txid: { type: 'string' },
      timestamp: { type: 'string' },
      force: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one <replica-url>');
    if (typeof values.output !== 'string') throw new UsageError('-o <file> is required');
    if (values.txid !== undefined && values.timestamp !== undefined) throw new UsageError('give --txid or --timestamp, not both');
    const txid = typeof values.txid === 'string' ? parseTxid(values.txid) : undefined;
    let timestamp: Date | undefined;
    if (typeof values.timestamp === 'string') {
      const ms = Date.parse(values.timestamp);
      if (Number.isNaN(ms)) throw new UsageError(`--timestamp ${JSON.stringify(values.timestamp)} is not a time: use RFC3339, e.g. 2026-11-24T09:00:00Z`);
      timestamp = new Date(ms);
    }
    const [replicaUrl] = positionals;
    const store = openReplicaStore(replicaUrl, loadConfig({ replicaUrl }, process.env).s3);
    const bar = progressLine();
    try {
      const r = await restore(store, { txid, timestamp }, values.output, {
        overwrite: values.force === true,
        onProgress: (p) => bar.update(p.bytesDone, p.bytes, `${formatBytes(p.bytesDone)}/${formatBytes(p.bytes)}, ${p.filesDone}/${p.files} files`),
      });
      bar.done();
      if (values.json) io.out(toJson({ ok: true, ...r }));
      else {
        const checks = `${r.checksumVerified ? 'checksum ok' : 'no checksums in the files'}, ${r.integrityChecked ? 'integrity ok' : 'empty database'}`;
        io.out(
          `restored ${r.url} at txid ${r.txid} to ${values.output}: ${r.commit} pages (${r.dbBytes} bytes), ${r.files} file${r.files === 1 ? '' : 's'} (${formatBytes(r.ltxBytes)}), ${r.requests} requests, ${r.ms.toFixed(0)} ms, ${checks}`,
        );
      }
      return EXIT_OK;
    } finally {
      bar.done();
      await store.close();
    }
  },
};
