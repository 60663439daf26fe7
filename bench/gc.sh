#!/usr/bin/env bash
# gc and doctor on a lake of many datasets and objects (local store): wall
# time and peak memory of `lake gc` (expiring all but the newest snapshot,
# then deleting every replaced object), `lake doctor` and `lake doctor
# --deep`, beside DuckDB's command line reading the same objects once (the
# reference: one pass over the bytes).
#
#   bash bench/gc.sh [DATASETS] [VERSIONS]     (default 1000 datasets x 10)
#   BENCH_STORE=s3 bash bench/gc.sh 200 5      (the store on a local S3 server,
#                                               s3s-fs from LAKE_TEST_S3S_FS)
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
store="${BENCH_STORE:-local}"
home="$work/gc-home-$store-$datasets-$versions"
s3_data="$work/gc-s3-$datasets-$versions"
if [ "$store" = s3 ]; then
  s3s="${LAKE_TEST_S3S_FS:-$HOME/.cache/lake/tools/bin/s3s-fs}"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$s3_data/bench"
  "$s3s" --host 127.0.0.1 --port "$port" --access-key benchkey --secret-key benchsecret12345 "$s3_data" >/dev/null 2>&1 &
  s3_pid=$!
  trap 'kill $s3_pid 2>/dev/null' EXIT
  export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret12345 AWS_REGION=us-east-1 \
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
fi
objects_dir() { if [ "$store" = s3 ]; then echo "$s3_data/bench/lake/datasets"; else echo "$1/store/datasets"; fi; }
if [ ! -s "$home/built" ]; then
  rm -rf "$home" "$s3_data/bench/lake"
  if [ "$store" = s3 ]; then "$lake" --home "$home" -q init --store s3://bench/lake >/dev/null; fi
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
objects=$(find "$(objects_dir "$home")" -type f | wc -l)
bytes=$(du -sb "$(objects_dir "$home")" | cut -f1)
echo "lake ($store store): $datasets datasets, $objects objects, $bytes bytes; duckdb $("$duckdb" --version | head -1)"
work_home="$work/gc-run"
rm -rf "$work_home" && cp -r "$home" "$work_home"
if [ "$store" = s3 ]; then
  # gc removes objects: run on a copy of the bucket's folder.
  rm -rf "$s3_data/bench/lake.kept" && cp -r "$s3_data/bench/lake" "$s3_data/bench/lake.kept"
  trap 'kill $s3_pid 2>/dev/null; rm -rf "$s3_data/bench/lake"; mv "$s3_data/bench/lake.kept" "$s3_data/bench/lake"' EXIT
fi

measure duck_read "$duckdb" -c "SELECT count(*) FROM read_parquet('$(objects_dir "$work_home")/*/*.parquet')"
measure doctor "$lake" --home "$work_home" -q doctor
measure doctor_deep "$lake" --home "$work_home" -q doctor --deep
measure gc_dry "$lake" --home "$work_home" -q gc --keep 1 --grace 0s --dry-run
measure gc "$lake" --home "$work_home" -q gc --keep 1 --grace 0s
left=$(find "$(objects_dir "$work_home")" -type f | wc -l)

# The same dry run on a catalog that names 200,000 more objects (file rows
# added by hand, no objects behind them): gc's memory must not follow them.
big_home="$work/gc-run-big"
rm -rf "$big_home" && cp -r "$home" "$big_home"
python3 - "$big_home/catalog.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
table, = db.execute("SELECT min(table_id) FROM ducklake_table").fetchone()
first, = db.execute("SELECT max(next_file_id) FROM ducklake_snapshot").fetchone()
db.executemany(
    "INSERT INTO ducklake_data_file (data_file_id, table_id, begin_snapshot, path, path_is_relative,"
    " file_format, record_count, file_size_bytes) VALUES (?, ?, 0, ?, 1, 'parquet', 1, 100)",
    ((first + i, table, f"synthetic-{i:07d}.parquet") for i in range(200_000)))
db.execute("UPDATE ducklake_snapshot SET next_file_id = ? WHERE snapshot_id = (SELECT max(snapshot_id) FROM ducklake_snapshot)", (first + 200_000,))
db.commit()
PY
measure gc_dry_200k "$lake" --home "$big_home" -q gc --grace 0s --dry-run

printf '\n%-12s %10s %10s %8s\n' step "s" "MiB" "x duckdb"
for step in duck_read doctor doctor_deep gc_dry gc gc_dry_200k; do
  printf '%-12s %10s %10s %8s\n' "$step" "${secs[$step]}" "$(( ${mem[$step]} / 1024 ))" \
    "$(ratio "${secs[$step]}" "${secs[duck_read]}")"
done
echo
echo "objects after gc: $left (one per dataset: $datasets)"
echo "gc_dry_200k: the dry run with 200,000 more file rows in the catalog (memory should stay that of gc_dry)"
