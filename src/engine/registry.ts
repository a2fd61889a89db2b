// Which VFSes the engine knows. `memory` is always there; `local` (the
// local-file VFS) is the default for `new Database(path)`.
import { LocalFileVfs } from '../vfs/local-file-vfs.js';
import { MemoryVfs } from '../vfs/memory-vfs.js';
import type { Vfs } from '../vfs/vfs.js';
import { facade } from './vfs-facade.js';

let defaultsRegistered = false;

/** Register the built-in VFSes once, before anything else is registered or opened. */
export function ensureDefaultVfses(): void {
  if (defaultsRegistered) return;
  defaultsRegistered = true;
  facade.register(new MemoryVfs(), false);
  facade.register(new LocalFileVfs(), true);
}

/**
 * Make `vfs` available to `new Database(path, { vfs: vfs.name })` and to
 * `file:...?vfs=name` URIs. Registering a name again replaces the VFS behind it
 * for files opened from then on.
 */
export function registerVfs(vfs: Vfs, options: { makeDefault?: boolean } = {}): void {
  if (vfs === null || typeof vfs !== 'object') throw new TypeError('vfs: expected an object implementing Vfs');
  if (typeof vfs.name !== 'string' || vfs.name === '' || vfs.name.includes('\0')) {
    throw new TypeError('vfs.name: expected a non-empty string');
  }
  for (const method of ['open', 'delete', 'access', 'fullPathname'] as const) {
    if (typeof vfs[method] !== 'function') throw new TypeError(`vfs.${method}: expected a function`);
  }
  if (options.makeDefault !== undefined && typeof options.makeDefault !== 'boolean') {
    throw new TypeError('makeDefault: expected a boolean');
  }
  ensureDefaultVfses();
  facade.register(vfs, options.makeDefault === true);
}

/** Names of the registered VFSes. */
export function registeredVfsNames(): string[] {
  ensureDefaultVfses();
  return facade.names();
}
