// Imported first by the package entry (src/index.ts), for its side effect: the I/O
// worker starts loading its modules on another core while this thread evaluates the
// rest of the package and the application gets to open(). Unref'd: it keeps no
// process alive, and a process that never opens a replica pays one idle thread.
import { prestartIoWorker } from './host.js';

prestartIoWorker();
