// Imported first by the package entry (src/index.ts), for its side effect: when the
// environment names a replica (LITESTREAM_REPLICA_URL), the process will open it, so
// the I/O worker starts loading its modules on another core while this thread
// evaluates the rest of the package and the application gets to open(). Otherwise it
// starts at the first open(): a process that only uses local files does not pay a
// thread's start (~90 ms of a core) for nothing. Unref'd: it keeps no process alive.
import { replicaInEnv } from '../config.js';
import { prestartIoWorker } from './host.js';

if (replicaInEnv()) prestartIoWorker();
