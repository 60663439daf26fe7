#!/usr/bin/env bash
# Ingest of the benchmark's rows in each input form, against DuckDB's own
# command line turning the same file into Parquet, in one run:
#   csv      COPY (FROM read_csv(F)) TO ... (FORMAT parquet)
#   csv.gz   the same, gzipped
#   csv.zst  the same, zstd
#   ndjson   COPY (FROM read_json(F)) TO ...
#   json     the same rows as one JSON array
#   nested   the same rows as JSON Lines of objects and arrays
#            ({"id", "order": {"customer", "amount", "items": [...]}, ...})
#   parquet  COPY (FROM read_parquet(F)) TO ...   (lake stores it as given)
#
#   bash bench/inputs.sh [ROWS]        (default 5000000 rows)
#
# The shapes real files come in besides these (quoted fields, 200 columns,
# 1 KB text, mostly empty, gzipped, NDJSON and nested NDJSON of those rows),
# each with its goal: bash bench/shapes.sh.
#
# Not a test: nothing here asserts; read the ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

rows="${1:-5000000}"
source bench/common.sh
base="$work/inputs-$rows"
[ -s "$base.csv.gz" ] || "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$base.csv.gz' (FORMAT csv, COMPRESSION gzip)"
[ -s "$base.csv.zst" ] || "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$base.csv.zst' (FORMAT csv, COMPRESSION zstd)"
[ -s "$base.ndjson" ] || "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$base.ndjson' (FORMAT json)"
[ -s "$base.json" ] || "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$base.json' (FORMAT json, ARRAY true)"
[ -s "$base.nested.ndjson" ] || "$duckdb" -c "COPY (SELECT id, {'customer': customer, 'amount': amount, 'items': [category, note]} AS order_, [qty, qty + 1] AS qtys, {'day': day, 'paid': paid} AS state FROM read_csv('$csv')) TO '$base.nested.ndjson' (FORMAT json)"
[ -s "$base.parquet" ] || "$duckdb" -c "COPY (FROM read_csv('$csv')) TO '$base.parquet' (FORMAT parquet)"
echo "input: $rows rows; duckdb $("$duckdb" --version | head -1)"

printf '\n%-13s %10s %10s %12s %12s %8s\n' input "duckdb s" "lake s" "duckdb MiB" "lake MiB" "time x"
for form in csv csv.gz csv.zst ndjson json nested.ndjson parquet; do
  file="$base.$form"
  [ "$form" = csv ] && file="$csv"
  case "$form" in
    ndjson | json | nested.ndjson) reader="read_json('$file')" ;;
    parquet) reader="read_parquet('$file')" ;;
    *) reader="read_csv('$file')" ;;
  esac
  rm -f "$work/out.parquet"
  measure "duck_$form" "$duckdb" -c "COPY (FROM $reader) TO '$work/out.parquet' (FORMAT parquet)"
  home="$work/inputs-home"
  rm -rf "$home"
  measure "lake_$form" "$lake" --home "$home" -q ingest "$file" --name bench
  printf '%-13s %10s %10s %12s %12s %8s\n' "$form" "${secs[duck_$form]}" "${secs[lake_$form]}" \
    "$(( ${mem[duck_$form]} / 1024 ))" "$(( ${mem[lake_$form]} / 1024 ))" \
    "$(ratio "${secs[lake_$form]}" "${secs[duck_$form]}")"
done
echo
echo "targets: csv time x <= 0.9 with peak < 100 MiB; ndjson time x <= 1.5"
