// The command table: names to modules. Add a command by adding one line here
// and one file beside it. Groups (like `ltx`) nest the same way.

import type { CommandGroup } from './args.js';
import { compactCommand } from './compact.js';
import { demo } from './demo.js';
import { importCommand } from './import.js';
import { infoCommand } from './info.js';
import { ltxDump } from './ltx-dump.js';
import { ltxVerify } from './ltx-verify.js';
import { restoreCommand } from './restore.js';
import { sqlCommand } from './sql.js';

export const root: CommandGroup = {
  summary: 'Open SQLite databases that live in S3-compatible object storage (Litestream v0.5 replicas).',
  commands: {
    demo,
    import: importCommand,
    restore: restoreCommand,
    info: infoCommand,
    compact: compactCommand,
    sql: sqlCommand,
    ltx: {
      summary: 'Inspect and check LTX files (the replica format)',
      commands: {
        dump: ltxDump,
        verify: ltxVerify,
      },
    },
  },
};
