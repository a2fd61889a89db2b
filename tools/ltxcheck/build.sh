#!/bin/sh
# Build tools/ltxcheck/dist/ltxcheck.wasm (the reference Go ltx library plus Litestream
# v0.5's restore/takeover/compaction rules) for Node, so that tests run the reference
# rules with nothing but Node installed. Needs Go ≥ 1.19 (Debian: apt-get install -y
# golang-go); no network (GOPROXY=off: every module is a local replace).
# dist/ is committed, like native/dist; SOURCES.sha256 ties it to these sources.
set -e
cd "$(dirname "$0")"
command -v go >/dev/null || { echo "build.sh: need go (apt-get install -y golang-go)" >&2; exit 1; }
export GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
export GOCACHE="${GOCACHE:-/tmp/ltxcheck-gocache}"
(cd cmd/ltxcheck && GOOS=js GOARCH=wasm nice -n 10 go build -tags noasm -trimpath -ldflags=-s -o ../../dist/ltxcheck.wasm .)
# Go's Node glue, as CommonJS (the package is ESM); dist/run.cjs is ours.
cp "$(go env GOROOT)/misc/wasm/wasm_exec.js" dist/wasm_exec.cjs
go version > dist/GO_VERSION
find build.sh cmd src -type f | LC_ALL=C sort | xargs sha256sum > dist/SOURCES.sha256
(cd dist && sha256sum ltxcheck.wasm wasm_exec.cjs run.cjs >> SOURCES.sha256)
echo "built $(pwd)/dist/ltxcheck.wasm ($(wc -c < dist/ltxcheck.wasm) bytes)"
