// `ltxvfs info <replica-url>`: what a replica holds, and what a restore would use.
import { loadConfig } from '../config.js';
import { LEVELS, choosePlan, fileTimestamp, isReplicaError, listReplica, openReplicaStore, readLtxHeader, type LtxFileInfo, type RestorePlan } from '../replica/index.js';
import { type Command, EXIT_FAIL, EXIT_OK, UsageError, oneLine, parseCommandArgs, toJson } from './args.js';

interface LevelInfo {
  level: number;
  files: number;
  minTXID: bigint | null;
  maxTXID: bigint | null;
  bytes: number;
}

export const infoCommand: Command = {
  summary: "Show a replica's levels, TXID range, database size and restore plan",
  help: `Show what a replica holds: each level (0-3, 9) with its file count, TXID range and
bytes; the replica's TXID range; page size and database size from the newest restorable
file's header; the newest timestamp; and how many files a restore of the latest state
uses. Exits 1 if the latest state cannot be restored (a gap, no snapshot).

Usage: ltxvfs info <replica-url> [--json]

Options:
  --json      print the result as JSON
  -h, --help  this text

Example:
  ltxvfs info file:///var/replicas/app`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new UsageError('expected one <replica-url>');
    const [replicaUrl] = positionals;
    const store = openReplicaStore(replicaUrl, loadConfig({ replicaUrl }, process.env).s3);
    try {
      const files = await listReplica(store);
      const levels: LevelInfo[] = LEVELS.map((level) => summarize(level, files.filter((f) => f.level === level)));
      if (files.length === 0) {
        if (values.json) io.out(toJson({ url: store.url, empty: true, levels }));
        else io.out(`replica ${store.url} is empty: no LTX files at levels 0-3 or 9`);
        return EXIT_OK;
      }
      let plan: RestorePlan | null = null;
      let planError: { code: string; message: string } | null = null;
      try {
        plan = choosePlan(store.url, files);
      } catch (err) {
        if (!isReplicaError(err)) throw err;
        planError = { code: err.code, message: oneLine(err) };
      }
      const newest = plan ? plan.files[plan.files.length - 1] : files.reduce((m, f) => (f.maxTXID > m.maxTXID ? f : m));
      const [header, stamp] = await Promise.all([readLtxHeader(store, newest.key), fileTimestamp(store, newest)]);
      const all = summarize(-1, files);
      const result = {
        url: store.url,
        empty: false,
        levels,
        minTXID: all.minTXID,
        maxTXID: all.maxTXID,
        files: files.length,
        bytes: all.bytes,
        pageSize: header.pageSize,
        commit: header.commit,
        dbBytes: header.commit * header.pageSize,
        atTXID: newest.maxTXID,
        newestTimestamp: stamp.toISOString(),
        plan: plan ? { files: plan.files.length, txid: plan.txid, keys: plan.files.map((f) => f.key) } : planError,
      };
      if (values.json) io.out(toJson(result));
      else {
        io.out(`replica ${store.url}`);
        io.out('level  files  txids                  bytes');
        for (const l of levels) {
          const range = l.files === 0 ? '-' : `${l.minTXID}..${l.maxTXID}`;
          io.out(`L${String(l.level).padEnd(5)} ${String(l.files).padStart(5)}  ${range.padEnd(21)} ${l.bytes}`);
        }
        io.out(`txids ${all.minTXID}..${all.maxTXID} in ${files.length} file${files.length === 1 ? '' : 's'}, newest ${result.newestTimestamp}`);
        io.out(`database at txid ${newest.maxTXID}: ${header.commit} pages of ${header.pageSize} bytes (${result.dbBytes} bytes)`);
        io.out(plan ? `restore plan: ${plan.files.length} file${plan.files.length === 1 ? '' : 's'} to txid ${plan.txid}` : `restore plan: FAIL ${planError!.message}`);
      }
      return plan ? EXIT_OK : EXIT_FAIL;
    } finally {
      await store.close();
    }
  },
};

function summarize(level: number, files: LtxFileInfo[]): LevelInfo {
  let minTXID: bigint | null = null;
  let maxTXID: bigint | null = null;
  let bytes = 0;
  for (const f of files) {
    if (minTXID === null || f.minTXID < minTXID) minTXID = f.minTXID;
    if (maxTXID === null || f.maxTXID > maxTXID) maxTXID = f.maxTXID;
    bytes += f.size;
  }
  return { level, files: files.length, minTXID, maxTXID, bytes };
}
