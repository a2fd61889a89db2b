// emscripten JS library for jsvfs.c: each import forwards its raw arguments
// (integers, heap pointers, doubles) to Module.jsvfsHost, which
// src/engine/vfs-facade.ts installs right after the module loads. Decoding
// pointers, catching and choosing error codes all happen there, in TypeScript.
// `mergeInto` rather than `addToLibrary`: Debian's emscripten is 3.1.6.
mergeInto(LibraryManager.library, {
  jsvfs_open: function (vfsId, zName, flags, pOutFlags) { return Module.jsvfsHost.open(vfsId, zName, flags, pOutFlags); },
  jsvfs_delete: function (vfsId, zName, syncDir) { return Module.jsvfsHost.delete(vfsId, zName, syncDir); },
  jsvfs_access: function (vfsId, zName, flags) { return Module.jsvfsHost.access(vfsId, zName, flags); },
  jsvfs_full_pathname: function (vfsId, zName, nOut, zOut) { return Module.jsvfsHost.fullPathname(vfsId, zName, nOut, zOut); },
  jsvfs_last_error: function (vfsId, nBuf, zBuf) { return Module.jsvfsHost.lastError(vfsId, nBuf, zBuf); },
  jsvfs_randomness: function (n, zOut) { return Module.jsvfsHost.randomness(n, zOut); },
  jsvfs_sleep: function (micros) { return Module.jsvfsHost.sleep(micros); },
  jsvfs_now_ms: function () { return Date.now(); },
  jsvfs_close: function (id) { return Module.jsvfsHost.close(id); },
  jsvfs_read: function (id, buf, n, off) { return Module.jsvfsHost.read(id, buf, n, off); },
  jsvfs_write: function (id, buf, n, off) { return Module.jsvfsHost.write(id, buf, n, off); },
  jsvfs_truncate: function (id, size) { return Module.jsvfsHost.truncate(id, size); },
  jsvfs_sync: function (id, flags) { return Module.jsvfsHost.sync(id, flags); },
  jsvfs_file_size: function (id) { return Module.jsvfsHost.fileSize(id); },
  jsvfs_lock: function (id, level) { return Module.jsvfsHost.lock(id, level); },
  jsvfs_unlock: function (id, level) { return Module.jsvfsHost.unlock(id, level); },
  jsvfs_check_reserved_lock: function (id) { return Module.jsvfsHost.checkReservedLock(id); },
  jsvfs_file_control: function (id, op, pArg) { return Module.jsvfsHost.fileControl(id, op, pArg); },
  jsvfs_sector_size: function (id) { return Module.jsvfsHost.sectorSize(id); },
  jsvfs_device_characteristics: function (id) { return Module.jsvfsHost.deviceCharacteristics(id); },
});
// User-defined functions belong to the engine (src/engine/functions.ts), not to a VFS.
mergeInto(LibraryManager.library, {
  jsvfs_call_function: function (fnId, ctx, argc, argv) { Module.jsvfsFunctions.call(fnId, ctx, argc, argv); },
  jsvfs_destroy_function: function (fnId) { Module.jsvfsFunctions.destroy(fnId); },
});
