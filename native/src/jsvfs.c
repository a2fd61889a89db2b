/*
** jsvfs.c: SQLite VFSes whose every method is forwarded to JavaScript.
**
** JavaScript registers any number of named VFSes with jsvfs_register(); each is
** a sqlite3_vfs allocated here whose `id` routes calls to one TypeScript `Vfs`
** (src/engine/vfs-facade.ts). Files are identified by an integer id that the
** JavaScript side hands out on open. The forwarding imports are declared below
** and implemented in jsvfs-lib.js.
**
** WAL shared memory (xShm*) is kept here, in the WASM heap, keyed by VFS and
** file name: it is shared by every connection inside this one WASM instance
** (one per Node process), which is the scope a JS lock table serves too.
**
** Conventions of the imports: a negative return is a negated SQLite result
** code; 64-bit offsets and sizes cross as doubles (exact below 2^53 bytes, and
** cheaper than BigInt on the hot read path).
*/
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

/* ---------- imports (jsvfs-lib.js) ---------- */
extern int jsvfs_open(int vfsId, const char *zName, int flags, int *pOutFlags);
extern int jsvfs_delete(int vfsId, const char *zName, int syncDir);
extern int jsvfs_access(int vfsId, const char *zName, int flags);
extern int jsvfs_full_pathname(int vfsId, const char *zName, int nOut, char *zOut);
extern int jsvfs_last_error(int vfsId, int nBuf, char *zBuf);
extern int jsvfs_randomness(int n, char *zOut);
extern int jsvfs_sleep(int micros);
extern double jsvfs_now_ms(void);
extern int jsvfs_close(int fileId);
extern int jsvfs_read(int fileId, void *buf, int n, double off);
extern int jsvfs_write(int fileId, const void *buf, int n, double off);
extern int jsvfs_truncate(int fileId, double size);
extern int jsvfs_sync(int fileId, int flags);
extern double jsvfs_file_size(int fileId);
extern int jsvfs_lock(int fileId, int level);
extern int jsvfs_unlock(int fileId, int level);
extern int jsvfs_check_reserved_lock(int fileId);
extern int jsvfs_file_control(int fileId, int op, void *pArg);
extern int jsvfs_sector_size(int fileId);
extern int jsvfs_device_characteristics(int fileId);
extern void jsvfs_call_function(int fnId, sqlite3_context *ctx, int argc, sqlite3_value **argv);
extern void jsvfs_destroy_function(int fnId);

typedef struct JsVfs JsVfs;
struct JsVfs {
  sqlite3_vfs base;
  int id;          /* index of the TypeScript Vfs in the facade */
  char zName[1];   /* allocated to fit */
};

/* ---------- in-heap shared memory for WAL ---------- */
typedef struct ShmNode ShmNode;
struct ShmNode {
  sqlite3_vfs *pVfs;
  char *zName;
  int nRef;
  int nRegion;
  int szRegion;
  char **apRegion;
  int aShared[SQLITE_SHM_NLOCK]; /* number of shared holders per slot */
  int aExcl[SQLITE_SHM_NLOCK];   /* 1 if some connection holds it exclusively */
  ShmNode *pNext;
};
static ShmNode *shmList = 0;

typedef struct JsFile JsFile;
struct JsFile {
  sqlite3_file base;
  sqlite3_vfs *pVfs;
  int id;
  const char *zName; /* SQLite keeps it valid until xClose */
  ShmNode *pShm;
  unsigned short sharedMask, exclMask;
};

static int jsShmUnmap(sqlite3_file *f, int deleteFlag);

static int jsClose(sqlite3_file *f) {
  JsFile *p = (JsFile *)f;
  if (p->pShm) jsShmUnmap(f, 0);
  return jsvfs_close(p->id);
}
static int jsRead(sqlite3_file *f, void *b, int n, sqlite3_int64 o) {
  return jsvfs_read(((JsFile *)f)->id, b, n, (double)o);
}
static int jsWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
  return jsvfs_write(((JsFile *)f)->id, b, n, (double)o);
}
static int jsTruncate(sqlite3_file *f, sqlite3_int64 s) {
  return jsvfs_truncate(((JsFile *)f)->id, (double)s);
}
static int jsSync(sqlite3_file *f, int fl) { return jsvfs_sync(((JsFile *)f)->id, fl); }
static int jsFileSize(sqlite3_file *f, sqlite3_int64 *pSize) {
  double sz = jsvfs_file_size(((JsFile *)f)->id);
  if (sz < 0) return (int)-sz;
  *pSize = (sqlite3_int64)sz;
  return SQLITE_OK;
}
static int jsLock(sqlite3_file *f, int l) { return jsvfs_lock(((JsFile *)f)->id, l); }
static int jsUnlock(sqlite3_file *f, int l) { return jsvfs_unlock(((JsFile *)f)->id, l); }
static int jsCheckReservedLock(sqlite3_file *f, int *pOut) {
  int r = jsvfs_check_reserved_lock(((JsFile *)f)->id);
  if (r < 0) { *pOut = 0; return -r; }
  *pOut = r;
  return SQLITE_OK;
}
static int jsFileControl(sqlite3_file *f, int op, void *a) {
  return jsvfs_file_control(((JsFile *)f)->id, op, a);
}
static int jsSectorSize(sqlite3_file *f) { return jsvfs_sector_size(((JsFile *)f)->id); }
static int jsDeviceCharacteristics(sqlite3_file *f) {
  return jsvfs_device_characteristics(((JsFile *)f)->id);
}

static int jsShmMap(sqlite3_file *f, int iRegion, int szRegion, int bExtend, void volatile **pp) {
  JsFile *p = (JsFile *)f;
  ShmNode *n = p->pShm;
  if (!n) {
    for (n = shmList; n; n = n->pNext) {
      if (n->pVfs == p->pVfs && strcmp(n->zName, p->zName) == 0) break;
    }
    if (!n) {
      n = calloc(1, sizeof(ShmNode));
      if (!n) return SQLITE_NOMEM;
      n->zName = strdup(p->zName);
      if (!n->zName) { free(n); return SQLITE_NOMEM; }
      n->pVfs = p->pVfs;
      n->szRegion = szRegion;
      n->pNext = shmList;
      shmList = n;
    }
    n->nRef++;
    p->pShm = n;
  }
  if (iRegion >= n->nRegion) {
    if (!bExtend) { *pp = 0; return SQLITE_OK; }
    char **a = realloc(n->apRegion, (iRegion + 1) * sizeof(char *));
    if (!a) return SQLITE_NOMEM;
    n->apRegion = a;
    for (int i = n->nRegion; i <= iRegion; i++) {
      a[i] = calloc(1, szRegion);
      if (!a[i]) { n->nRegion = i; return SQLITE_NOMEM; }
    }
    n->nRegion = iRegion + 1;
  }
  *pp = n->apRegion[iRegion];
  return SQLITE_OK;
}

static int jsShmLock(sqlite3_file *f, int ofst, int nLock, int flags) {
  JsFile *p = (JsFile *)f;
  ShmNode *n = p->pShm;
  if (!n) return SQLITE_IOERR_SHMLOCK;
  if (flags & SQLITE_SHM_UNLOCK) {
    for (int i = ofst; i < ofst + nLock; i++) {
      unsigned short bit = 1 << i;
      if (p->sharedMask & bit) { n->aShared[i]--; p->sharedMask &= ~bit; }
      if (p->exclMask & bit) { n->aExcl[i] = 0; p->exclMask &= ~bit; }
    }
    return SQLITE_OK;
  }
  if (flags & SQLITE_SHM_SHARED) {
    for (int i = ofst; i < ofst + nLock; i++) {
      unsigned short bit = 1 << i;
      if (p->sharedMask & bit) continue;
      if (n->aExcl[i]) return SQLITE_BUSY;
    }
    for (int i = ofst; i < ofst + nLock; i++) {
      unsigned short bit = 1 << i;
      if (!(p->sharedMask & bit)) { n->aShared[i]++; p->sharedMask |= bit; }
    }
    return SQLITE_OK;
  }
  /* exclusive: nobody else may hold the slot in any mode */
  for (int i = ofst; i < ofst + nLock; i++) {
    unsigned short bit = 1 << i;
    if (p->exclMask & bit) continue;
    if (n->aExcl[i]) return SQLITE_BUSY;
    if (n->aShared[i] - ((p->sharedMask & bit) ? 1 : 0) > 0) return SQLITE_BUSY;
  }
  for (int i = ofst; i < ofst + nLock; i++) {
    unsigned short bit = 1 << i;
    n->aExcl[i] = 1;
    p->exclMask |= bit;
  }
  return SQLITE_OK;
}

/* One thread per instance: nothing to order. */
static void jsShmBarrier(sqlite3_file *f) { (void)f; }

static int jsShmUnmap(sqlite3_file *f, int deleteFlag) {
  JsFile *p = (JsFile *)f;
  ShmNode *n = p->pShm;
  (void)deleteFlag;
  if (!n) return SQLITE_OK;
  jsShmLock(f, 0, SQLITE_SHM_NLOCK, SQLITE_SHM_UNLOCK);
  p->pShm = 0;
  if (--n->nRef == 0) {
    ShmNode **pp = &shmList;
    while (*pp != n) pp = &(*pp)->pNext;
    *pp = n->pNext;
    for (int i = 0; i < n->nRegion; i++) free(n->apRegion[i]);
    free(n->apRegion);
    free(n->zName);
    free(n);
  }
  return SQLITE_OK;
}

static const sqlite3_io_methods jsio = {
    2, jsClose, jsRead, jsWrite, jsTruncate, jsSync, jsFileSize, jsLock, jsUnlock,
    jsCheckReservedLock, jsFileControl, jsSectorSize, jsDeviceCharacteristics,
    jsShmMap, jsShmLock, jsShmBarrier, jsShmUnmap, 0, 0};

static int vfsId(sqlite3_vfs *v) { return ((JsVfs *)v)->id; }

static int jsOpen(sqlite3_vfs *v, const char *zName, sqlite3_file *f, int flags, int *pOutFlags) {
  JsFile *p = (JsFile *)f;
  memset(p, 0, sizeof(*p));
  int id = jsvfs_open(vfsId(v), zName, flags, pOutFlags);
  if (id < 0) return -id;
  p->id = id;
  p->pVfs = v;
  p->zName = zName ? zName : "";
  p->base.pMethods = &jsio;
  return SQLITE_OK;
}
static int jsDelete(sqlite3_vfs *v, const char *z, int syncDir) {
  return jsvfs_delete(vfsId(v), z, syncDir);
}
static int jsAccess(sqlite3_vfs *v, const char *z, int flags, int *pOut) {
  int r = jsvfs_access(vfsId(v), z, flags);
  if (r < 0) { *pOut = 0; return -r; }
  *pOut = r;
  return SQLITE_OK;
}
static int jsFullPathname(sqlite3_vfs *v, const char *z, int nOut, char *zOut) {
  return jsvfs_full_pathname(vfsId(v), z, nOut, zOut);
}
static int jsRandomness(sqlite3_vfs *v, int n, char *z) { (void)v; return jsvfs_randomness(n, z); }
static int jsSleep(sqlite3_vfs *v, int us) { (void)v; return jsvfs_sleep(us); }
static int jsCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *p) {
  (void)v;
  *p = (sqlite3_int64)210866760000000.0 + (sqlite3_int64)jsvfs_now_ms(); /* Julian day, ms */
  return SQLITE_OK;
}
static int jsCurrentTime(sqlite3_vfs *v, double *p) {
  (void)v;
  *p = 2440587.5 + jsvfs_now_ms() / 86400000.0;
  return SQLITE_OK;
}
static int jsGetLastError(sqlite3_vfs *v, int n, char *z) {
  return jsvfs_last_error(vfsId(v), n, z);
}

static const sqlite3_vfs jsvfsTemplate = {
    2, sizeof(JsFile), 1024, 0, 0, 0, jsOpen, jsDelete, jsAccess, jsFullPathname,
    0, 0, 0, 0, jsRandomness, jsSleep, jsCurrentTime, jsGetLastError, jsCurrentTimeInt64,
    0, 0, 0};

/*
** Register (or re-point) the VFS `zName` to the JavaScript Vfs number `id`.
** Registering a name again keeps the sqlite3_vfs (open connections hold it)
** and only changes where its calls go, and whether it is the default.
*/
int jsvfs_register(const char *zName, int id, int makeDefault) {
  sqlite3_vfs *existing = sqlite3_vfs_find(zName);
  if (existing) {
    if (existing->xOpen != jsOpen) return SQLITE_MISUSE;
    ((JsVfs *)existing)->id = id;
    return makeDefault ? sqlite3_vfs_register(existing, 1) : SQLITE_OK;
  }
  size_t n = strlen(zName);
  JsVfs *v = calloc(1, sizeof(JsVfs) + n);
  if (!v) return SQLITE_NOMEM;
  memcpy(v->zName, zName, n + 1);
  v->base = jsvfsTemplate;
  v->base.zName = v->zName;
  v->base.pAppData = v;
  v->id = id;
  return sqlite3_vfs_register(&v->base, makeDefault);
}

/* ---------- small helpers that save the engine a BigInt per call ---------- */

/* Bind a JS number known to be a safe integer as INTEGER. */
int jsvfs_bind_int53(sqlite3_stmt *s, int i, double v) {
  return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* The last rowid as a double; the engine asks for the BigInt only when unsafe. */
double jsvfs_last_insert_rowid(sqlite3 *db) {
  return (double)sqlite3_last_insert_rowid(db);
}

/* Bytes currently allocated by malloc in the WASM heap (SQLite, shm, scratch). */
unsigned int jsvfs_heap_used(void) {
  struct mallinfo mi = mallinfo();
  return (unsigned int)mi.uordblks;
}

/* ---------- user-defined scalar functions, implemented in JavaScript ---------- */
static void jsFunction(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  jsvfs_call_function((int)(size_t)sqlite3_user_data(ctx), ctx, argc, argv);
}
static void jsFunctionDestroy(void *p) { jsvfs_destroy_function((int)(size_t)p); }

int jsvfs_create_function(sqlite3 *db, const char *zName, int nArg, int flags, int fnId) {
  return sqlite3_create_function_v2(db, zName, nArg, SQLITE_UTF8 | flags, (void *)(size_t)fnId,
                                    jsFunction, 0, 0, jsFunctionDestroy);
}

/* SQLITE_OS_OTHER: the OS layer is ours, and JavaScript registers the VFSes. */
int sqlite3_os_init(void) { return SQLITE_OK; }
int sqlite3_os_end(void) { return SQLITE_OK; }
