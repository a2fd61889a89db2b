// Imported first by the package entry (src/index.ts), for its side effect: when the
// environment names a replica (LITESTREAM_REPLICA_URL), the process will open it, so
// the I/O worker starts loading its modules on another core while this thread
// evaluates the rest of the package and the application gets to open(). Otherwise
// it starts at the first open(): measured on 2 busy cores, a worker started for a
// process that only uses local files took ~40-60 ms from that process's first query
// (bench:boot's local floor; docs/benchmarks.md). Unref'd: it keeps no process alive.
import { prestartIoWorker } from './host.js';

if (process.env.LITESTREAM_REPLICA_URL) prestartIoWorker();
