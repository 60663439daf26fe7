#!/usr/bin/env bash
# Benchmark: lake against DuckDB's own command line, in one run, on the same
# machine and data. Prints wall time, peak memory and the ratios.
#
#   bash bench/run.sh [ROWS]        (default 5000000 rows, about 500 MB)
#   BENCH_GC=0 bash bench/run.sh    (without gc and doctor, bench/gc.sh)
#
# Not a test: nothing here asserts; read the ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

rows="${1:-5000000}"
source bench/common.sh
echo "input: $csv ($(du -h "$csv" | cut -f1)), duckdb $("$duckdb" --version | head -1)"

# Ingest: CSV to Parquet.
rm -f "$work/duck.parquet"
measure duck_ingest "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$work/duck.parquet' (FORMAT parquet)"
home="$work/home"
rm -rf "$home"
measure lake_ingest "$lake" --home "$home" -q ingest "$csv" --name bench

# Query: the same group-by on lake's Parquet object.
key=$("$lake" --home "$home" show bench --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"][0]["key"])')
object="$home/store/$key"
q="select category, count(*) as n, sum(amount) as total, avg(qty) as avg_qty, max(ts) as last from %s group by category order by category"
measure duck_query "$duckdb" -c "$(printf "$q" "read_parquet('$object')")"
measure lake_query "$lake" --home "$home" sql --format csv "$(printf "$q" bench)"

# The same group-by through DuckDB's DuckLake attach of this lake (DuckDB 1.5.5
# from the test venv, timed inside Python: attach + query, no interpreter
# start-up) against the whole `lake sql` process.
pyduck="$HOME/.cache/lake/ducklake-venv/bin/python"
if [ -x "$pyduck" ]; then
  attach=$("$lake" --home "$home" info --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attach"])')
  secs[ducklake_query]=$("$pyduck" - "$attach" "$(printf "$q" lake.bench)" <<'PY'
import sys, time
sys.path.insert(0, "tests/ducklake")
from duck import connect
con = connect()
t = time.perf_counter()
con.execute(sys.argv[1])
con.execute(sys.argv[2]).fetchall()
print(f"{time.perf_counter() - t:.2f}")
PY
)
fi

# History must not slow the present: `lake sql 'select 1'` on 1,000 datasets
# with 1,000 snapshots, then with 10,000 (9,000 appends on top).
history_home="$work/history"
if [ ! -s "$history_home/catalog.sqlite" ] || [ "$("$lake" --home "$history_home" info --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"])')" -lt 10001 ]; then
  rm -rf "$history_home"
  "$lake" --home "$history_home" -q init >/dev/null
  echo "building a home with 1,000 datasets and 10,000 snapshots (a few minutes, once)"
  seq 1 1000 | xargs -P 2 -I{} sh -c "printf 'id\n{}\n' | '$lake' --home '$history_home' -q ingest - --name d{} >/dev/null"
  cp "$history_home/catalog.sqlite" "$work/history-1000.sqlite"
  seq 1001 10000 | xargs -P 2 -I{} sh -c "printf 'id\n{}\n' | '$lake' --home '$history_home' -q ingest - --name d\$(( {} % 1000 + 1 )) --append >/dev/null"
fi
select1() { # HOME: seconds for 20 runs of select 1
  python3 - "$lake" "$1" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
for _ in range(20):
    subprocess.run([sys.argv[1], "--home", sys.argv[2], "sql", "select 1"], check=True, stdout=subprocess.DEVNULL)
print(f"{(time.perf_counter() - t) / 20:.3f}")
PY
}
few_home="$work/history-few"; rm -rf "$few_home"; mkdir -p "$few_home"
cp "$work/history-1000.sqlite" "$few_home/catalog.sqlite"
secs[select1_1k]=$(select1 "$few_home")
secs[select1_10k]=$(select1 "$history_home")

# The same on an S3 store: a local s3s-fs server on a free loopback port.
s3s="${LAKE_TEST_S3S_FS:-$HOME/.cache/lake/tools/bin/s3s-fs}"
if [ -x "$s3s" ]; then
  s3data="$work/s3data"; rm -rf "$s3data"; mkdir -p "$s3data/bench"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$s3s" --host 127.0.0.1 --port "$port" --access-key benchkey --secret-key benchsecret "$s3data" >/dev/null 2>&1 &
  s3pid=$!
  trap 'kill $s3pid 2>/dev/null' EXIT
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1 \
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
  s3home="$work/s3home"; rm -rf "$s3home"
  "$lake" --home "$s3home" -q init --store s3://bench/lake >/dev/null
  measure s3_ingest "$lake" --home "$s3home" -q ingest "$csv" --name bench
  rm -rf "$s3home/cache"
  measure s3_query_cold "$lake" --home "$s3home" sql --format csv "$(printf "$q" bench)"
  measure s3_query "$lake" --home "$s3home" sql --format csv "$(printf "$q" bench)"
fi

printf '\n%-8s %12s %12s %12s %12s %10s %10s\n' step "duckdb s" "lake s" "duckdb MiB" "lake MiB" "time x" "mem x"
for step in ingest query; do
  ds=${secs[duck_$step]}; ls=${secs[lake_$step]}
  dm=$(( ${mem[duck_$step]} / 1024 )); lm=$(( ${mem[lake_$step]} / 1024 ))
  printf '%-8s %12s %12s %12s %12s %10s %10s\n' "$step" "$ds" "$ls" "$dm" "$lm" "$(ratio "$ls" "$ds")" "$(ratio "$lm" "$dm")"
done
echo
echo "targets: ingest time x <= 1.0, lake ingest peak < 300 MiB, query time x <= 1.2"
if [ -n "${secs[ducklake_query]:-}" ]; then
  printf '\n%-34s %8s %8s %8s\n' "group-by on the same lake" "duckdb" "lake" "x"
  printf '%-34s %8s %8s %8s\n' "DuckDB DuckLake attach vs lake sql" "${secs[ducklake_query]}" "${secs[lake_query]}" "$(ratio "${secs[lake_query]}" "${secs[ducklake_query]}")"
  echo "target: within 1.2x of each other"
fi
printf '\n%-34s %8s %8s %8s\n' "select 1, 1,000 datasets" "1k snaps" "10k snaps" "x"
printf '%-34s %8s %8s %8s\n' "lake sql (s per run)" "${secs[select1_1k]}" "${secs[select1_10k]}" "$(ratio "${secs[select1_10k]}" "${secs[select1_1k]}")"
echo "target: 10k snapshots no more than 1.5x of 1k"
if [ -n "${secs[s3_ingest]:-}" ]; then
  printf '\n%-16s %10s %10s %10s %10s\n' "S3 vs local" "local s" "s3 s" "s3 MiB" "time x"
  for pair in "ingest:s3_ingest" "query (cold):s3_query_cold" "query (cached):s3_query"; do
    label=${pair%%:*}; key=${pair#*:}; base=lake_${label%% *}
    printf '%-16s %10s %10s %10s %10s\n' "$label" "${secs[$base]}" "${secs[$key]}" "$(( ${mem[$key]} / 1024 ))" "$(ratio "${secs[$key]}" "${secs[$base]}")"
  done
  echo "targets: S3 ingest time x <= 1.3, cached query time x <= 1.1"
fi

# gc and doctor on 1,000 datasets and 10,000 objects, on the local store and
# on S3 (bench/gc.sh; each lake is built once and kept in $work).
# The catalog on SQLite and on PostgreSQL: commits per second and the cost
# of a command (bench/catalog.sh).
echo; bash bench/catalog.sh

if [ "${BENCH_GC:-1}" = 1 ]; then
  echo; bash bench/gc.sh 1000 10
  echo; BENCH_STORE=s3 bash bench/gc.sh 1000 10
fi
