// `ltxvfs compact <replica-url> [--force] [--dry-run] [--json]`: one compaction and retention pass.
import { compactOnce, type CompactionReport } from '../compact/index.js';
import { loadConfig } from '../config.js';
import { log } from '../log.js';
import { openReplicaStore } from '../replica/index.js';
import { type Command, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';
import { formatBytes } from './progress.js';

export const compactCommand: Command = {
  summary: 'Run one compaction and retention pass on a replica (L0 -> L1 -> L2 -> L3, L9 snapshot, deletions)',
  help: `Run one compaction pass over a replica, as the writer does in the background:
- first, orphans go: an L0 file that overlaps another and that no next file continues
  (its checksums do not link: a fenced writer's leftover);
- L1, L2, L3: each level whose interval has turned (30 s, 5 min, 1 h) gets one file
  merging the lower level's files after its newest file (newest page wins);
- if the latest restore plan has more than 12 files, lower levels are compacted ahead
  of schedule, and if that is not enough an L9 snapshot is written; a snapshot is also
  written daily (every level is compacted up to the latest TXID first);
- last, files retention allows are deleted: L0 files 5 min after an L1 file covers
  them, and files and snapshots older than the newest snapshot that is 24 h old.
  A file the latest restore plan uses is never deleted, nor any file sooner than the
  readers' grace (5 min) after the file that replaced it was written.
The intervals and retentions come from LITESTREAM_L1_INTERVAL, LITESTREAM_L2_INTERVAL,
LITESTREAM_L3_INTERVAL, LITESTREAM_SNAPSHOT_INTERVAL, LITESTREAM_SNAPSHOT_RETENTION,
LITESTREAM_L0_RETENTION and LITESTREAM_READER_GRACE (defaults above).
Outputs are created with If-None-Match: *, so a pass that was interrupted is simply
run again.

WARNING: only the replica's single writer (or, when nobody is writing, you) should
compact. Run it while another process compacts the same replica and the two may
delete files the other still expects.

Usage: ltxvfs compact <replica-url> [--force] [--dry-run] [--json]

Options:
  --force     compact every level and write a snapshot now, whatever the intervals say
  --dry-run   print what would be written and deleted; fetch, write and delete nothing
  --json      print the report as JSON
  -h, --help  this text

Example:
  ltxvfs compact file:///var/replicas/app --force
  wrote   L1 ltx/1/0000000000000002-0000000000000020.ltx from 31 files (38 kB) [force]
  wrote   L2 ltx/2/0000000000000002-0000000000000020.ltx from 1 file (38 kB) [force]
  wrote   L3 ltx/3/0000000000000002-0000000000000020.ltx from 1 file (38 kB) [force]
  wrote   L9 ltx/9/0000000000000001-0000000000000020.ltx from 2 files (512 kB) [force]
  compacted file:///var/replicas/app at txid 32: wrote 4 files (626 kB), deleted 0 files (0 B), plan 32 -> 1 files, 80 requests, 85 ms
L0 files go on a later pass, 5 min after the L1 file that covers them was written.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { force: { type: 'boolean' }, 'dry-run': { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('expected one <replica-url>');
    const [replicaUrl] = positionals;
    const config = loadConfig({ replicaUrl }, process.env);
    const store = openReplicaStore(replicaUrl, config.s3);
    try {
      // stdout carries the report; the pass's per-file info lines would repeat it on stderr.
      const quiet = log.child({}, { level: 'warn' });
      const r = await compactOnce(store, { policy: config.compaction, force: values.force === true, dryRun: values['dry-run'] === true, log: quiet });
      if (values.json) io.out(toJson({ ok: true, ...r }));
      else for (const line of describe(r)) io.out(line);
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};

function describe(r: CompactionReport): string[] {
  const dry = r.dryRun;
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  if (r.latestTXID === null) return [`replica ${r.url} is empty: nothing to compact`];
  const lines: string[] = [];
  for (const w of r.written) {
    const verb = dry ? 'would write' : w.existed ? 'kept   ' : 'wrote  ';
    const size = dry ? `${formatBytes(w.inputBytes)} in` : formatBytes(w.bytes);
    lines.push(`${verb} L${w.level} ${w.key} from ${n(w.inputs, 'file')} (${size}) [${w.reason}${w.existed ? ', already there' : ''}]`);
  }
  for (const d of r.deleted) lines.push(`${dry ? 'would delete' : 'deleted'} L${d.level} ${d.key} [${d.reason}]`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  const plan = r.planFilesBefore === null ? 'no restore plan' : `plan ${r.planFilesBefore} -> ${r.planFilesAfter ?? '?'} files`;
  const wrote = dry ? `would write ${n(r.written.length, 'file')}` : `wrote ${n(r.written.length, 'file')} (${formatBytes(r.bytesWritten)})`;
  const deleted = `${dry ? 'would delete' : 'deleted'} ${n(r.deleted.length, 'file')} (${formatBytes(r.bytesDeleted)})`;
  lines.push(`${dry ? 'dry run: ' : ''}compacted ${r.url} at txid ${r.latestTXID}: ${wrote}, ${deleted}, ${plan}, ${r.requests} requests, ${r.ms.toFixed(0)} ms`);
  return lines;
}
