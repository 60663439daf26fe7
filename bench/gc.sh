#!/usr/bin/env bash
# gc and doctor on a lake of many datasets and objects (local store): wall
# time and peak memory of `lake gc` (expiring all but the newest snapshot,
# then deleting every replaced object), `lake doctor` and `lake doctor
# --deep`, beside DuckDB's command line reading the same objects once (the
# reference: one pass over the bytes).
#
#   bash bench/gc.sh [DATASETS] [VERSIONS]     (default 1000 datasets x 10)
#
# Objects: DATASETS x VERSIONS (each version replaces the last). Memory
# should follow a listing page, not the object count: compare two sizes.
# Not a test: nothing here asserts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

datasets="${1:-1000}"
versions="${2:-10}"
rows=1000
source bench/common.sh
home="$work/gc-home-$datasets-$versions"
if [ ! -s "$home/built" ]; then
  rm -rf "$home"
  src="$work/gc-src"
  rm -rf "$src" && mkdir -p "$src"
  for v in $(seq 1 "$versions"); do
    for d in $(seq 1 "$datasets"); do echo "id,v"; echo "$d,$v"; done | \
      awk -v dir="$src" -v v="$v" 'NR % 2 == 1 {next} {split($0, f, ","); print "id,v\n" $0 > dir "/d" f[1] "_v" v ".csv"; close(dir "/d" f[1] "_v" v ".csv")}'
  done
  echo "building $datasets datasets x $versions versions in $home"
  for v in $(seq 1 "$versions"); do
    ls "$src"/*_v"$v".csv | xargs -P 2 -I{} sh -c \
      'f={}; n=$(basename "$f" .csv); "$0" --home "$1" -q ingest "$f" --name "${n%_v*}" --replace >/dev/null' "$lake" "$home"
  done
  touch "$home/built"
fi
objects=$(find "$home/store/datasets" -type f | wc -l)
bytes=$(du -sb "$home/store/datasets" | cut -f1)
echo "lake: $datasets datasets, $objects objects, $bytes bytes; duckdb $("$duckdb" --version | head -1)"
work_home="$work/gc-run"
rm -rf "$work_home" && cp -r "$home" "$work_home"

measure duck_read "$duckdb" -c "SELECT count(*) FROM read_parquet('$work_home/store/datasets/*/*.parquet')"
measure doctor "$lake" --home "$work_home" -q doctor
measure doctor_deep "$lake" --home "$work_home" -q doctor --deep
measure gc_dry "$lake" --home "$work_home" -q gc --keep 1 --grace 0s --dry-run
measure gc "$lake" --home "$work_home" -q gc --keep 1 --grace 0s
left=$(find "$work_home/store/datasets" -type f | wc -l)

printf '\n%-12s %10s %10s %8s\n' step "s" "MiB" "x duckdb"
for step in duck_read doctor doctor_deep gc_dry gc; do
  printf '%-12s %10s %10s %8s\n' "$step" "${secs[$step]}" "$(( ${mem[$step]} / 1024 ))" \
    "$(ratio "${secs[$step]}" "${secs[duck_read]}")"
done
echo
echo "objects after gc: $left (one per dataset: $datasets)"
