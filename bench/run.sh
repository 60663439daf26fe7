#!/usr/bin/env bash
# Benchmark: lake against DuckDB's own command line, in one run, on the same
# machine and data. Prints wall time, peak memory and the ratios.
#
#   bash bench/run.sh [ROWS]        (default 5000000 rows, about 500 MB)
#
# Not a test: nothing here asserts; read the ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

rows="${1:-5000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lake/target}"
work="${BENCH_DIR:-$HOME/.cache/lake/bench}"
mkdir -p "$work"

venv="$HOME/.cache/lake/bench-venv"
if [ ! -x "$venv/bin/duckdb" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q duckdb-cli
fi
duckdb="$venv/bin/duckdb"

cargo build --locked --quiet
lake="$CARGO_TARGET_DIR/debug/lake"

csv="$work/bench-$rows.csv"
if [ ! -s "$csv" ]; then
  echo "generating $rows rows into $csv"
  python3 bench/gen_csv.py "$rows" "$csv"
fi
echo "input: $csv ($(du -h "$csv" | cut -f1)), duckdb $("$duckdb" --version | head -1)"

# measure NAME CMD...: runs CMD once, records "seconds peak_kib".
declare -A secs mem
measure() {
  local name="$1"; shift
  local t
  /usr/bin/time -o "$work/time.txt" -f "%e %M" "$@" >/dev/null 2>"$work/$name.err" || {
    echo "$name failed:"; cat "$work/$name.err"; exit 1; }
  t=$(tail -1 "$work/time.txt")
  secs[$name]="${t% *}"
  mem[$name]="${t#* }"
}

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

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
printf '\n%-8s %12s %12s %12s %12s %10s %10s\n' step "duckdb s" "lake s" "duckdb MiB" "lake MiB" "time x" "mem x"
for step in ingest query; do
  ds=${secs[duck_$step]}; ls=${secs[lake_$step]}
  dm=$(( ${mem[duck_$step]} / 1024 )); lm=$(( ${mem[lake_$step]} / 1024 ))
  printf '%-8s %12s %12s %12s %12s %10s %10s\n' "$step" "$ds" "$ls" "$dm" "$lm" "$(ratio "$ls" "$ds")" "$(ratio "$lm" "$dm")"
done
echo
echo "targets: ingest time x <= 1.0, lake ingest peak < 300 MiB, query time x <= 1.2"
