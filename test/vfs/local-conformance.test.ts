// The shared VFS conformance suite, on the local-file VFS (real files on disk).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { runVfsConformance } from '../support/vfs-conformance.js';

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-conformance-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

runVfsConformance(() => path.join(dir, `db${++n}.db`), 'local');
