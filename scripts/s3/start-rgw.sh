#!/usr/bin/env bash
# start-rgw.sh — a throwaway single-node Ceph cluster (1 mon, 1 RAM-backed memstore OSD,
# no mgr, no cephx inside) plus radosgw serving S3 on 127.0.0.1. No systemd, no Docker.
# Idempotent for one RGW_DIR: a previous cluster in it is stopped (by its pid files) first.
#
# Env (all optional):
#   RGW_DIR             state dir (default: <project>/.rgw/manual); wiped on start
#   RGW_PORT            S3 port (default: the first free port from 40380)
#   RGW_MON_PORT        mon msgr2 port (default: the first free port from 40300)
#   RGW_MSG_PORT_MIN/MAX  port range for the OSD's messengers (default 40310-40379;
#                       ceph skips ports in use, so clusters can share the range)
#   RGW_MEMSTORE_BYTES  OSD memstore capacity, RAM-backed (default 2 GiB)
#   S3_ACCESS_KEY / S3_SECRET_KEY  fixed credentials of the created user
#   RGW_NO_INSTALL=1    never apt-get install missing packages
#   RGW_GLIBC_TUNABLES  glibc malloc tunables for the ceph daemons (default below; '' for glibc's own)
# Prints S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY / S3_REGION on stdout and writes
# them to $RGW_DIR/s3.env. Progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${RGW_DIR:-$ROOT/.rgw/manual}
PORT_MIN=${RGW_MSG_PORT_MIN:-40310}
PORT_MAX=${RGW_MSG_PORT_MAX:-40379}
MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-2147483648}
AK=${S3_ACCESS_KEY:-CIACCESSKEY0000000000}
SK=${S3_SECRET_KEY:-cisecretkey0000000000000000000000000000}
RGW_NAME=client.rgw.ci
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)
# The daemons (not the ceph CLIs) run with glibc malloc tuned for big GETs: by default every
# multi-MiB buffer is a fresh mmap, returned on free, and first-touch page faults made
# radosgw spend ~7 s CPU per GiB served; with mmap only above 256 MiB and no trim below
# 4 GiB free it reuses its heap: ~1.1 s/GiB (256 MiB GET 2.0 s -> 0.43 s). Memory stays
# sane: radosgw's RSS after a 1 GiB PUT and 4 GiB of GETs was 300 MiB (210 MiB untuned);
# the OSD's is its memstore either way.
TUNABLES=${RGW_GLIBC_TUNABLES-glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967296}
DAEMON_ENV=(env "GLIBC_TUNABLES=$TUNABLES")

T0=$(date +%s%N)
say() { printf '[start-rgw %5.1fs] %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
cannot_install() {
  say "ERROR: $1"
  cat >&2 <<MSG
  The tests need Ceph's radosgw (Debian packages: ${PACKAGES[*]}).
  Either install them as root:
      apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}
  or point the tests at another S3-compatible server (MinIO: see docker-compose.yml, docs/s3.md):
      S3_ENDPOINT=http://127.0.0.1:9000 S3_ACCESS_KEY=... S3_SECRET_KEY=... S3_BUCKET=... npx vitest run
MSG
  exit 1
}

# ---- packages ---------------------------------------------------------------
need=()
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
  command -v "$b" >/dev/null || need+=("$b")
done
if ((${#need[@]})); then
  [[ ${RGW_NO_INSTALL:-} == 1 ]] && cannot_install "missing: ${need[*]} (and RGW_NO_INSTALL=1)"
  [[ $(id -u) == 0 ]] || cannot_install "missing: ${need[*]}, and not root, so cannot apt-get install them"
  command -v apt-get >/dev/null || cannot_install "missing: ${need[*]}, and no apt-get on this machine"
  say "installing ${PACKAGES[*]} (missing: ${need[*]}); ~14 s the first time"
  export DEBIAN_FRONTEND=noninteractive
  # Lock timeout: two test runs starting at once on a fresh machine queue on dpkg's lock.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || cannot_install "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null ||
    cannot_install "apt-get install ${PACKAGES[*]} failed"
  say "packages installed"
fi

# ---- clean slate ------------------------------------------------------------
if [[ -e $DIR ]]; then
  [[ -f $DIR/.rgw-ci-cluster ]] || die "$DIR exists and is not ours (no .rgw-ci-cluster marker); refusing to wipe"
  RGW_DIR=$DIR "$HERE/stop-rgw.sh" >&2
  rm -rf -- "$DIR"
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # first port from $1 that nobody listens on and is not $2
  local p=$1
  while port_busy "$p" || [[ $p == "${2:-}" ]]; do p=$((p + 1)); done
  echo "$p"
}
MON_PORT=${RGW_MON_PORT:-$(free_port 40300)}
S3_PORT=${RGW_PORT:-$(free_port 40380 "$MON_PORT")}
for p in "$MON_PORT" "$S3_PORT"; do port_busy "$p" && die "port $p on 127.0.0.1 is already in use"; done

mkdir -p "$DIR"/{mon,osd,run,log,rgw,pids,crash}
touch "$DIR/.rgw-ci-cluster"
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/ceph.conf
FSID=$(cat /proc/sys/kernel/random/uuid)

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $PORT_MIN
ms bind port max = $PORT_MAX
# no cephx inside the throwaway cluster (S3 requests are still SigV4-authenticated by rgw)
auth cluster required = none
auth service required = none
auth client required = none
# with auth=none the mon connection cannot be 'secure'; radosgw otherwise loops on -13 for 300 s
ms mon client mode = crc
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
# the monitor otherwise stops itself when the disk is nearly full
mon data avail crit = 0
# commit map changes fast (default 1 s per proposal; rgw creates ~8 pools: 8.4 s -> 0.3 s)
paxos propose interval = 0.01
paxos min wait = 0.001

[mon]
mon data = $DIR/mon/\$cluster-\$id
mon initial members = a

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client]
client mount timeout = 30
rados mon op timeout = 30

[$RGW_NAME]
# tcp_nodelay: small GET 44 ms -> 1.6 ms
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT tcp_nodelay=1
rgw data = $DIR/rgw
CONF

CEPH=(timeout 60 ceph -c "$CONF" --connect-timeout 20)
cleanup_on_error() {
  local rc=$?
  ((rc)) || return 0
  say "failed (rc=$rc); last log lines:"
  for f in "$DIR"/log/*.log; do [[ -f $f ]] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  RGW_DIR=$DIR RGW_KEEP=1 "$HERE/stop-rgw.sh" >&2 || true
  exit "$rc"
}
trap cleanup_on_error EXIT

# record a daemon's pid (ceph writes run/<name>.pid after daemonizing; we keep our own copy,
# which stop-rgw.sh uses even when the daemon has removed its own)
record_pid() {
  local name=$1 i
  for i in $(seq 100); do [[ -s $DIR/run/$name.pid ]] && break; sleep 0.1; done
  [[ -s $DIR/run/$name.pid ]] || die "$name wrote no pid file"
  cp "$DIR/run/$name.pid" "$DIR/pids/$name.pid"
}

# ---- mon ----------------------------------------------------------------------
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
"${DAEMON_ENV[@]}" ceph-mon -c "$CONF" -i a
record_pid mon.a
"${CEPH[@]}" mon stat >/dev/null
say "mon up on 127.0.0.1:$MON_PORT (pid $(cat "$DIR/pids/mon.a.pid"))"

# ---- osd (memstore: RAM-backed, nothing on disk) --------------------------------
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$("${CEPH[@]}" osd new "$OSD_UUID")
# the OSD mkfs fails without its data dir
mkdir -p "$DIR/osd/ceph-$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>/dev/null
"${DAEMON_ENV[@]}" ceph-osd -c "$CONF" -i "$OSD_ID" 2>/dev/null
record_pid "osd.$OSD_ID"
for i in $(seq 120); do
  "${CEPH[@]}" osd stat -f json | grep -q '"num_up_osds":1' && break
  sleep 0.25
done
"${CEPH[@]}" osd stat -f json | grep -q '"num_up_osds":1' || die "osd.$OSD_ID did not come up"
say "osd.$OSD_ID up (pid $(cat "$DIR/pids/osd.$OSD_ID.pid"))"

# ---- radosgw ------------------------------------------------------------------
http_ok() { # GET / must answer 200 (anonymous ListAllMyBuckets)
  (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT" && printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
    IFS= read -r -t 5 line <&3 && [[ $line == HTTP/1.?\ 200* ]]) 2>/dev/null
}
"${DAEMON_ENV[@]}" radosgw -c "$CONF" -n "$RGW_NAME"
record_pid "$RGW_NAME"
for i in $(seq 600); do http_ok && break; sleep 0.1; done
http_ok || die "radosgw not answering on 127.0.0.1:$S3_PORT"
say "radosgw up on 127.0.0.1:$S3_PORT (pid $(cat "$DIR/pids/$RGW_NAME.pid"))"

# Pre-create the bucket pools so the first CreateBucket is not slowed down by pool creation.
# One ceph session reads all six commands from stdin (each `ceph` start costs ~0.3 s),
# while the S3 user is created alongside.
for p in default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
  printf 'osd pool create %s 8 8\nosd pool application enable %s rgw\n' "$p" "$p"
done | "${CEPH[@]}" >/dev/null 2>&1 &
POOLS=$!
timeout 60 radosgw-admin -c "$CONF" user create --uid=ci --display-name=ci \
  --access-key="$AK" --secret-key="$SK" >"$DIR/user.json"
wait "$POOLS" || die "creating the bucket pools failed"
trap - EXIT

cat >"$DIR/s3.env" <<ENV
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
S3_ACCESS_KEY=$AK
S3_SECRET_KEY=$SK
S3_REGION=us-east-1
ENV
say "ready: S3 endpoint http://127.0.0.1:$S3_PORT (state in $DIR; stop with RGW_DIR=$DIR scripts/s3/stop-rgw.sh)"
cat "$DIR/s3.env"
