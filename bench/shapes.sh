#!/usr/bin/env bash
# Ingest of the file shapes real data comes in, against DuckDB's command line
# turning the same file into Parquet (`COPY (FROM read_csv(F)) TO ...
# (FORMAT parquet)`, read_json for NDJSON), medians of RUNS in one run, with
# the goals of issue 28 beside them:
#   bench      the benchmark's CSV (bench/gen_csv.py)
#   quoted     id, name, amount (2 decimals), day, ts (by seconds), flag,
#              category (A-Z), note: every 10th row `"has, comma and ""quote"""`
#   wide       200 columns, mostly numeric (ROWS/10 rows)
#   longtext   1 KB text fields, 5% with a newline inside quotes (ROWS/20 rows)
#   nulls      the quoted shape with 70% of its fields empty
#   quoted.gz  the quoted shape, gzipped
#   ndjson     the quoted rows as JSON Lines
#   nested     the quoted rows as JSON Lines of objects and arrays
#
#   bash bench/shapes.sh [ROWS] [RUNS]     (default 5000000 rows, 3 runs)
#   SHAPES="ndjson nested" bash bench/shapes.sh   (only those shapes)
#
# Not a test: nothing here asserts; read the ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

rows="${1:-5000000}"
runs="${2:-3}"
source bench/common.sh
base="$work/shapes-$rows"
wide_rows=$((rows / 10))
long_rows=$((rows / 20))

quoted_select="SELECT i AS id, 'name_' || (i % 1000) AS name, round(random() * 1000, 2) AS amount,
  DATE '2020-01-01' + (i % 1500)::INT AS day, TIMESTAMP '2020-01-01 00:00:00' + to_seconds(i) AS ts,
  i % 3 = 0 AS flag, chr(65 + (i % 26)::INT) AS category,
  CASE WHEN i % 10 = 0 THEN 'has, comma and \"quote\"' ELSE 'plain note ' || i END AS note
  FROM range($rows) t(i)"
make() {
  local file="$1" statement="$2"
  [ -s "$file" ] || { echo "making $file"; "$duckdb" -c "SELECT setseed(0.42); $statement"; }
}
make "$base.quoted.csv" "COPY ($quoted_select) TO '$base.quoted.csv' (FORMAT csv)"
make "$base.quoted.csv.gz" "COPY (FROM read_csv('$base.quoted.csv')) TO '$base.quoted.csv.gz' (FORMAT csv, COMPRESSION gzip)"
make "$base.ndjson" "COPY (FROM read_csv('$base.quoted.csv')) TO '$base.ndjson' (FORMAT json)"
make "$base.nested.ndjson" "COPY (SELECT id, {'name': name, 'amount': amount, 'tags': [category, note]} AS detail,
  [id % 7, id % 11] AS pair, {'day': day, 'ts': ts, 'flag': flag} AS state FROM read_csv('$base.quoted.csv'))
  TO '$base.nested.ndjson' (FORMAT json)"
make "$base.nulls.csv" "COPY (SELECT
  CASE WHEN hash(id, 1) % 10 < 7 THEN NULL ELSE id END AS id,
  CASE WHEN hash(id, 2) % 10 < 7 THEN NULL ELSE name END AS name,
  CASE WHEN hash(id, 3) % 10 < 7 THEN NULL ELSE amount END AS amount,
  CASE WHEN hash(id, 4) % 10 < 7 THEN NULL ELSE day END AS day,
  CASE WHEN hash(id, 5) % 10 < 7 THEN NULL ELSE ts END AS ts,
  CASE WHEN hash(id, 6) % 10 < 7 THEN NULL ELSE flag END AS flag,
  CASE WHEN hash(id, 7) % 10 < 7 THEN NULL ELSE category END AS category,
  CASE WHEN hash(id, 8) % 10 < 7 THEN NULL ELSE note END AS note
  FROM read_csv('$base.quoted.csv')) TO '$base.nulls.csv' (FORMAT csv)"
wide_cols="i AS c0"
for c in $(seq 1 199); do
  case $((c % 10)) in
    0) wide_cols+=", 'v' || ((i * $c) % 97) AS c$c" ;;
    1 | 2 | 3) wide_cols+=", round(((i * $c) % 100003) / 7.0, 3) AS c$c" ;;
    *) wide_cols+=", (i * $c) % 1000003 AS c$c" ;;
  esac
done
make "$base.wide.csv" "COPY (SELECT $wide_cols FROM range($wide_rows) t(i)) TO '$base.wide.csv' (FORMAT csv)"
make "$base.longtext.csv" "COPY (SELECT i AS id, i % 13 AS kind,
  CASE WHEN i % 20 = 0 THEN repeat('line one of a long field, ', 20) || chr(10) || repeat('and the next line ', 27)
       ELSE repeat('a long field of plain text ' || (i % 1000) || ' ', 37) END AS body
  FROM range($long_rows) t(i)) TO '$base.longtext.csv' (FORMAT csv)"

echo "rows: $rows (wide $wide_rows x 200 columns, longtext $long_rows); $runs runs each; duckdb $("$duckdb" --version | head -1)"
median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
printf '\n%-10s %9s %9s %11s %11s %8s %7s\n' shape "duckdb s" "lake s" "duckdb MiB" "lake MiB" "time x" goal
for shape in ${SHAPES:-bench quoted wide longtext nulls quoted.gz ndjson nested}; do
  case "$shape" in
    bench) file="$csv"; reader="read_csv('$file')"; goal=0.8 ;;
    quoted.gz) file="$base.quoted.csv.gz"; reader="read_csv('$file')"; goal=0.8 ;;
    ndjson) file="$base.ndjson"; reader="read_json('$file')"; goal=1.0 ;;
    nested) file="$base.nested.ndjson"; reader="read_json('$file')"; goal=1.2 ;;
    *) file="$base.$shape.csv"; reader="read_csv('$file')"; goal=0.8 ;;
  esac
  d=(); l=(); dm=0; lm=0
  for _ in $(seq "$runs"); do
    rm -f "$work/out.parquet"
    measure duck "$duckdb" -c "COPY (FROM $reader) TO '$work/out.parquet' (FORMAT parquet)"
    d+=("${secs[duck]}"); [ "${mem[duck]}" -gt "$dm" ] && dm="${mem[duck]}"
    home="$work/shapes-home"
    rm -rf "$home"
    measure lake "$lake" --home "$home" -q ingest "$file" --name bench
    l+=("${secs[lake]}"); [ "${mem[lake]}" -gt "$lm" ] && lm="${mem[lake]}"
  done
  ds=$(median "${d[@]}"); ls=$(median "${l[@]}")
  printf '%-10s %9s %9s %11s %11s %8s %7s\n' "$shape" "$ds" "$ls" "$((dm / 1024))" "$((lm / 1024))" \
    "$(ratio "$ls" "$ds")" "<= $goal"
done
echo
echo "goals: peak memory under 128 MiB on every shape"
