#!/usr/bin/env bash
# Build native/dist/sqlite3.{cjs,wasm}: the SQLite amalgamation plus our VFS shim
# (native/src) compiled with Debian's emscripten 3.1.6
# (`apt-get install emscripten`). Run as `npm run build:native`; see native/README.md.
#
# The amalgamation is taken at build time from better-sqlite3's npm tarball (it
# ships deps/sqlite3/sqlite3.{c,h}), pinned by package version and by sha256 of
# both files. Nothing third-party is committed.
set -euo pipefail
cd "$(dirname "$0")"

SQLITE_PKG=better-sqlite3@12.11.1
SQLITE_VERSION=3.53.2
SQLITE_C_SHA256=60d2f39a3726cd6b9021da6f4e868608d66fbb6528a9f513dc8ffcc640493422
SQLITE_H_SHA256=9e69a1353a4288450b0d5239ede11fc7f1f4c8e5eb07491fc8317eacb5b7de7e

export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
EMCC=${EMCC:-emcc}

# Why each option: native/README.md, "Compile options".
SQLITE_FLAGS=(
  -DSQLITE_OS_OTHER=1
  -DSQLITE_THREADSAFE=0
  -DSQLITE_USE_URI=1
  -DSQLITE_TEMP_STORE=3
  -DSQLITE_DEFAULT_MEMSTATUS=0
  -DSQLITE_DQS=0
  -DSQLITE_DEFAULT_FOREIGN_KEYS=1
  -DSQLITE_MAX_MMAP_SIZE=0
  -DSQLITE_OMIT_LOAD_EXTENSION
  -DSQLITE_OMIT_DEPRECATED
  -DSQLITE_OMIT_UTF16
  -DSQLITE_OMIT_SHARED_CACHE
  -DSQLITE_OMIT_PROGRESS_CALLBACK
  -DSQLITE_OMIT_DESERIALIZE
  -DSQLITE_LIKE_DOESNT_MATCH_BLOBS
  -DSQLITE_ENABLE_BATCH_ATOMIC_WRITE
  -DSQLITE_ENABLE_COLUMN_METADATA
  -DSQLITE_ENABLE_MATH_FUNCTIONS
  -DSQLITE_ENABLE_FTS5
  -DSQLITE_ENABLE_DBSTAT_VTAB
)
OPT=(-O3)
LINK_FLAGS=(
  -s ENVIRONMENT=node
  -s FILESYSTEM=0
  -s WASM_BIGINT=1
  -s WASM_ASYNC_COMPILATION=0
  -s MODULARIZE=0
  -s ALLOW_MEMORY_GROWTH=1
  -s MAXIMUM_MEMORY=4GB
  -s NODEJS_CATCH_EXIT=0
  -s NODEJS_CATCH_REJECTION=0
  -s EXPORTED_RUNTIME_METHODS=[]
)

fetch_sqlite() {
  local ok=1
  if [ -f sqlite-src/sqlite3.c ] && [ -f sqlite-src/sqlite3.h ]; then
    echo "$SQLITE_C_SHA256  sqlite-src/sqlite3.c" | sha256sum -c --status || ok=0
    echo "$SQLITE_H_SHA256  sqlite-src/sqlite3.h" | sha256sum -c --status || ok=0
    [ $ok = 1 ] && return 0
  fi
  echo "fetching SQLite $SQLITE_VERSION from $SQLITE_PKG" >&2
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$SQLITE_PKG" >/dev/null &&
    tar xzf ./*.tgz package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h)
  echo "$SQLITE_C_SHA256  $tmp/package/deps/sqlite3/sqlite3.c" | sha256sum -c --status ||
    { echo "sqlite3.c from $SQLITE_PKG does not match the pinned sha256" >&2; exit 1; }
  echo "$SQLITE_H_SHA256  $tmp/package/deps/sqlite3/sqlite3.h" | sha256sum -c --status ||
    { echo "sqlite3.h from $SQLITE_PKG does not match the pinned sha256" >&2; exit 1; }
  mkdir -p sqlite-src
  cp "$tmp/package/deps/sqlite3/sqlite3.c" "$tmp/package/deps/sqlite3/sqlite3.h" sqlite-src/
}

fetch_sqlite
mkdir -p build dist

# The amalgamation takes ~30 s: rebuild it only when its flags or source changed.
stamp="$(printf '%s\n' "${OPT[@]}" "${SQLITE_FLAGS[@]}" "$SQLITE_C_SHA256" "$($EMCC --version | head -1)")"
if [ ! -f build/sqlite3.o ] || [ "$(cat build/sqlite3.o.stamp 2>/dev/null)" != "$stamp" ]; then
  echo "compiling sqlite3.c" >&2
  "$EMCC" "${OPT[@]}" "${SQLITE_FLAGS[@]}" -c sqlite-src/sqlite3.c -o build/sqlite3.o
  printf '%s' "$stamp" >build/sqlite3.o.stamp
fi
echo "compiling jsvfs.c" >&2
"$EMCC" "${OPT[@]}" "${SQLITE_FLAGS[@]}" -Wall -Werror -I sqlite-src -c src/jsvfs.c -o build/jsvfs.o

exports=$(sed -e '/^\s*$/d' -e 's/^/"_/' -e 's/$/"/' src/exports.txt | paste -sd, -)
echo "linking" >&2
"$EMCC" "${OPT[@]}" "${LINK_FLAGS[@]}" -s "EXPORTED_FUNCTIONS=[$exports]" \
  --js-library src/jsvfs-lib.js build/sqlite3.o build/jsvfs.o -o build/sqlite3.js
# The package is ESM; the glue is CommonJS and is loaded with createRequire.
cp build/sqlite3.js dist/sqlite3.cjs
cp build/sqlite3.wasm dist/sqlite3.wasm

# What the staleness test (test/engine/native-dist.test.ts) recomputes: the
# inputs, then the outputs they produced.
(
  cd ..
  sha256sum native/build.sh native/src/* native/dist/sqlite3.cjs native/dist/sqlite3.wasm
) >dist/SOURCES.sha256
echo "SQLite $SQLITE_VERSION; wrote native/dist" >&2
