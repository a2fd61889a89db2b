// `ltxvfs import <db-file> <replica-url> [--force]`: a local database into a replica as an L9 snapshot.
import { loadConfig } from '../config.js';
import { importDatabase, openReplicaStore } from '../replica/index.js';
import { type Command, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';

export const importCommand: Command = {
  summary: 'Put a local SQLite database into a replica as a snapshot (L9, TXID 1)',
  help: `Write a local SQLite database into a replica as Litestream v0.5 does for a fresh
database: one snapshot LTX file at level 9, TXID 1, with checksums, uploaded only if
absent, with the litestream-timestamp metadata. A replica that already holds LTX files
is refused unless --force, which deletes them first. The database must be at rest: a
rollback journal or a non-empty -wal beside it is refused.

Usage: ltxvfs import <db-file> <replica-url> [--force] [--json]

Replica URLs: s3://bucket/path?endpoint=…&region=…&forcePathStyle=true or file:///dir.
S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN,
AWS_REGION, AWS_ENDPOINT_URL_S3).

Options:
  --force     replace the replica's existing LTX files
  --json      print the result as JSON
  -h, --help  this text

Example:
  ltxvfs import app.db file:///var/replicas/app
  imported app.db to file:///var/replicas/app: 365 pages of 4096 bytes, snapshot ltx/9/0000000000000001-0000000000000001.ltx (497057 bytes), 3 requests, 84 ms`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { force: { type: 'boolean' } });
    if (positionals.length !== 2) throw new UsageError('expected <db-file> <replica-url>');
    const [dbFile, replicaUrl] = positionals;
    const store = openReplicaStore(replicaUrl, loadConfig({ replicaUrl }, process.env).s3);
    try {
      const r = await importDatabase(dbFile, store, { force: values.force === true });
      if (values.json) io.out(toJson({ ok: true, db: dbFile, ...r }));
      else {
        const replaced = r.deleted > 0 ? `, replaced ${r.deleted} LTX file${r.deleted === 1 ? '' : 's'}` : '';
        io.out(`imported ${dbFile} to ${r.url}: ${r.pages} pages of ${r.pageSize} bytes, snapshot ${r.key} (${r.ltxBytes} bytes)${replaced}, ${r.requests} requests, ${r.ms.toFixed(0)} ms`);
      }
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};
