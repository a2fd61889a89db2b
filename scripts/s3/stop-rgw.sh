#!/usr/bin/env bash
# stop-rgw.sh — stop exactly the daemons start-rgw.sh started (pids recorded in $RGW_DIR/pids),
# then remove $RGW_DIR (set RGW_KEEP=1 to keep it, e.g. for the logs).
# RGW_DIR defaults to <project>/.rgw/manual, the default of start-rgw.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${RGW_DIR:-$ROOT/.rgw/manual}
[[ -d $DIR ]] || { echo "stop-rgw: nothing to stop ($DIR absent)"; exit 0; }
[[ -f $DIR/.rgw-ci-cluster ]] || { echo "stop-rgw: $DIR is not a start-rgw.sh dir" >&2; exit 1; }
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/ceph.conf

# Our daemons: a pid counts only while it is still our daemon (binary + our ceph.conf),
# so a stale pid file never makes us signal an unrelated process.
ours() { # $1 = pid file; prints "pid name" if still ours
  local f=$1 name pid cmd
  name=$(basename "$f" .pid)
  pid=$(cat "$f" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || cmd=
  if [[ $cmd != *"$CONF"* || ! $cmd =~ (ceph-mon|ceph-osd|radosgw) ]]; then
    echo "stop-rgw: $name (pid $pid) not running" >&2
    return 0
  fi
  echo "$pid $name"
}

# Signal a group of daemons at once ($1: TERM or KILL) and wait for all (SIGKILL after 15 s).
stop_group() {
  local sig=$1 f pid name i
  shift
  declare -A names=()
  for f in "$@"; do
    read -r pid name < <(ours "$f") && names[$pid]=$name
    rm -f "$f"
  done
  ((${#names[@]})) || return 0
  for pid in "${!names[@]}"; do kill "-$sig" "$pid" 2>/dev/null; done
  for i in $(seq 150); do
    local alive=0
    for pid in "${!names[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${!names[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop-rgw: ${names[$pid]} (pid $pid) ignored SIGTERM for 15 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    echo "stop-rgw: stopped ${names[$pid]} (pid $pid)"
  done
}

shopt -s nullglob
if [[ ${RGW_KEEP:-} == 1 ]]; then
  # Keeping the dir (for its logs): shut down cleanly, ~2 s per step. radosgw first (it
  # hangs in shutdown when its OSD goes away under it), then the OSDs, then the mon.
  stop_group TERM "$DIR"/pids/client.*.pid
  stop_group TERM "$DIR"/pids/osd.*.pid
  stop_group TERM "$DIR"/pids/mon.*.pid
else
  # Everything is thrown away (the OSD keeps objects in RAM), so a clean shutdown buys
  # nothing and costs ~6 s: SIGKILL.
  stop_group KILL "$DIR"/pids/*.pid
fi

if [[ ${RGW_KEEP:-} == 1 ]]; then
  echo "stop-rgw: kept $DIR"
else
  rm -rf -- "$DIR"
  echo "stop-rgw: removed $DIR"
fi
