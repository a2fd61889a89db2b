// SQLite's numeric constants that the VFS and engine layers use, by name.
// Values from sqlite3.h (stable across SQLite 3.x).

export const SQLITE_OK = 0;
export const SQLITE_ERROR = 1;
export const SQLITE_INTERNAL = 2;
export const SQLITE_PERM = 3;
export const SQLITE_ABORT = 4;
export const SQLITE_BUSY = 5;
export const SQLITE_LOCKED = 6;
export const SQLITE_NOMEM = 7;
export const SQLITE_READONLY = 8;
export const SQLITE_INTERRUPT = 9;
export const SQLITE_IOERR = 10;
export const SQLITE_CORRUPT = 11;
export const SQLITE_NOTFOUND = 12;
export const SQLITE_FULL = 13;
export const SQLITE_CANTOPEN = 14;
export const SQLITE_PROTOCOL = 15;
export const SQLITE_EMPTY = 16;
export const SQLITE_SCHEMA = 17;
export const SQLITE_TOOBIG = 18;
export const SQLITE_CONSTRAINT = 19;
export const SQLITE_MISMATCH = 20;
export const SQLITE_MISUSE = 21;
export const SQLITE_NOLFS = 22;
export const SQLITE_AUTH = 23;
export const SQLITE_FORMAT = 24;
export const SQLITE_RANGE = 25;
export const SQLITE_NOTADB = 26;
export const SQLITE_NOTICE = 27;
export const SQLITE_WARNING = 28;
export const SQLITE_ROW = 100;
export const SQLITE_DONE = 101;

// Extended I/O error codes (SQLITE_IOERR | n << 8).
export const SQLITE_IOERR_READ = SQLITE_IOERR | (1 << 8);
export const SQLITE_IOERR_SHORT_READ = SQLITE_IOERR | (2 << 8);
export const SQLITE_IOERR_WRITE = SQLITE_IOERR | (3 << 8);
export const SQLITE_IOERR_FSYNC = SQLITE_IOERR | (4 << 8);
export const SQLITE_IOERR_DIR_FSYNC = SQLITE_IOERR | (5 << 8);
export const SQLITE_IOERR_TRUNCATE = SQLITE_IOERR | (6 << 8);
export const SQLITE_IOERR_FSTAT = SQLITE_IOERR | (7 << 8);
export const SQLITE_IOERR_UNLOCK = SQLITE_IOERR | (8 << 8);
export const SQLITE_IOERR_RDLOCK = SQLITE_IOERR | (9 << 8);
export const SQLITE_IOERR_DELETE = SQLITE_IOERR | (10 << 8);
export const SQLITE_IOERR_NOMEM = SQLITE_IOERR | (12 << 8);
export const SQLITE_IOERR_ACCESS = SQLITE_IOERR | (13 << 8);
export const SQLITE_IOERR_CHECKRESERVEDLOCK = SQLITE_IOERR | (14 << 8);
export const SQLITE_IOERR_LOCK = SQLITE_IOERR | (15 << 8);
export const SQLITE_IOERR_CLOSE = SQLITE_IOERR | (16 << 8);
export const SQLITE_IOERR_SHMOPEN = SQLITE_IOERR | (18 << 8);
export const SQLITE_IOERR_SHMSIZE = SQLITE_IOERR | (19 << 8);
export const SQLITE_IOERR_SHMLOCK = SQLITE_IOERR | (20 << 8);
export const SQLITE_IOERR_SHMMAP = SQLITE_IOERR | (21 << 8);
export const SQLITE_IOERR_SEEK = SQLITE_IOERR | (22 << 8);
export const SQLITE_IOERR_DELETE_NOENT = SQLITE_IOERR | (23 << 8);
export const SQLITE_IOERR_GETTEMPPATH = SQLITE_IOERR | (25 << 8);
export const SQLITE_IOERR_CONVPATH = SQLITE_IOERR | (26 << 8);
export const SQLITE_CANTOPEN_FULLPATH = SQLITE_CANTOPEN | (3 << 8);
export const SQLITE_READONLY_CANTINIT = SQLITE_READONLY | (5 << 8);
export const SQLITE_READONLY_DIRECTORY = SQLITE_READONLY | (6 << 8);

// xOpen flags.
export const SQLITE_OPEN_READONLY = 0x00000001;
export const SQLITE_OPEN_READWRITE = 0x00000002;
export const SQLITE_OPEN_CREATE = 0x00000004;
export const SQLITE_OPEN_DELETEONCLOSE = 0x00000008;
export const SQLITE_OPEN_EXCLUSIVE = 0x00000010;
export const SQLITE_OPEN_URI = 0x00000040;
export const SQLITE_OPEN_MEMORY = 0x00000080;
export const SQLITE_OPEN_MAIN_DB = 0x00000100;
export const SQLITE_OPEN_TEMP_DB = 0x00000200;
export const SQLITE_OPEN_TRANSIENT_DB = 0x00000400;
export const SQLITE_OPEN_MAIN_JOURNAL = 0x00000800;
export const SQLITE_OPEN_TEMP_JOURNAL = 0x00001000;
export const SQLITE_OPEN_SUBJOURNAL = 0x00002000;
export const SQLITE_OPEN_SUPER_JOURNAL = 0x00004000;
export const SQLITE_OPEN_NOMUTEX = 0x00008000;
export const SQLITE_OPEN_FULLMUTEX = 0x00010000;
export const SQLITE_OPEN_WAL = 0x00080000;
export const SQLITE_OPEN_NOFOLLOW = 0x01000000;
export const SQLITE_OPEN_EXRESCODE = 0x02000000;

// xSync flags.
export const SQLITE_SYNC_NORMAL = 0x00002;
export const SQLITE_SYNC_FULL = 0x00003;
export const SQLITE_SYNC_DATAONLY = 0x00010;

// xAccess flags.
export const SQLITE_ACCESS_EXISTS = 0;
export const SQLITE_ACCESS_READWRITE = 1;
export const SQLITE_ACCESS_READ = 2;

// xDeviceCharacteristics bits.
export const SQLITE_IOCAP_ATOMIC = 0x00000001;
export const SQLITE_IOCAP_SAFE_APPEND = 0x00000200;
export const SQLITE_IOCAP_SEQUENTIAL = 0x00000400;
export const SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN = 0x00000800;
export const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x00001000;
export const SQLITE_IOCAP_IMMUTABLE = 0x00002000;
export const SQLITE_IOCAP_BATCH_ATOMIC = 0x00004000;

// xFileControl ops the project cares about.
export const SQLITE_FCNTL_LOCKSTATE = 1;
export const SQLITE_FCNTL_SIZE_HINT = 5;
export const SQLITE_FCNTL_PRAGMA = 14;
export const SQLITE_FCNTL_SYNC = 21;
export const SQLITE_FCNTL_COMMIT_PHASETWO = 22;
export const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
export const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
export const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;

/** The primary code of a (possibly extended) result code. */
export function primaryCode(rc: number): number {
  return rc & 0xff;
}
