# Sourced by the benchmarks: DuckDB's command line (the reference) from a
# venv, lake built with the tests' profile, the benchmark CSV of $rows rows,
# and `measure NAME CMD...` (wall seconds and peak KiB into secs/mem).
work="${BENCH_DIR:-$HOME/.cache/lake/bench}"
mkdir -p "$work"

venv="$HOME/.cache/lake/bench-venv"
if [ ! -x "$venv/bin/duckdb" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q duckdb-cli
fi
duckdb="$venv/bin/duckdb"

# LAKE_BIN: a lake binary to measure instead of building one (a copy stays
# the same while the target directory is rebuilt).
if [ -n "${LAKE_BIN:-}" ]; then
  lake="$LAKE_BIN"
else
  source scripts/build.sh
fi

csv="$work/bench-$rows.csv"
if [ ! -s "$csv" ]; then
  echo "generating $rows rows into $csv"
  python3 bench/gen_csv.py "$rows" "$csv"
fi

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

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
