#!/usr/bin/env bash
# The web UI against issue 27's goal: a 10M-row dataset's page, with its
# statistics, distinct estimates, first rows and facets, in under a second.
# Headless Chromium (Selenium from the tests' venv) times the page from
# navigation until all of it is on screen (the distinct estimates of columns
# with too many values for a facet may come later), medians of RUNS, with the server's
# kept answers off (every query runs) and on (a second visit); DuckDB's
# command line runs the page's statements one after another on the same
# Parquet file as the reference.
# Usage: bench/ui.sh [ROWS] [RUNS]. Needs chromium, chromedriver and the
# tests' venv (`bash .ci/run` makes them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
ui_rows="${1:-10000000}"
runs="${2:-5}"
rows=1000  # common.sh's own CSV, unused here: keep it small
source bench/common.sh
python="${LAKE_TEST_PYTHON:-$HOME/.cache/lake/ducklake-venv/bin/python}"

parquet="$work/ui-events-$ui_rows.parquet"
[ -s "$parquet" ] || "$duckdb" -c "COPY (SELECT i AS id, 'name_' || (i % 1000) AS name,
  round(random() * 1000, 2) AS amount, DATE '2020-01-01' + (i % 1500)::INT AS day,
  TIMESTAMP '2020-01-01 00:00:00' + to_seconds(i) AS ts, i % 3 = 0 AS flag,
  chr(65 + (i % 26)::INT) AS category,
  CASE WHEN i % 10 = 0 THEN 'has, comma and \"quote\"' ELSE 'plain note ' || i END AS note
  FROM range($ui_rows) t(i)) TO '$parquet' (FORMAT parquet)"
home="$(mktemp -d)"
export LAKE_HOME="$home/lake"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$home"' EXIT
"$lake" -q ingest "$parquet" --name events >/dev/null

# The page's statements (src/server/ui/static/app.js), on the file itself.
cols=(id name amount day ts flag category note)
{
  echo "CREATE VIEW events AS FROM read_parquet('$parquet');"
  stats=()
  for i in "${!cols[@]}"; do
    c="${cols[$i]}"
    stats+=("SELECT $i, count(*), count(*) - count(\"$c\"), min(\"$c\")::VARCHAR, max(\"$c\")::VARCHAR FROM events")
  done
  (IFS='|'; echo "${stats[*]};" | sed 's/|/ UNION ALL /g')
  echo "SELECT * FROM events LIMIT 50 OFFSET 0;"
  first=(); for c in "${cols[@]}"; do first+=("approx_count_distinct(\"$c\")"); done
  (IFS=','; echo "SELECT ${first[*]} FROM (SELECT * FROM events LIMIT 100000);")
  for c in flag category; do
    echo "SELECT approx_count_distinct(\"$c\") FROM events;"
    echo "SELECT \"$c\", count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST LIMIT 11;"
  done
} >"$home/page.sql"
duck=()
for _ in $(seq "$runs"); do
  measure duck_page "$duckdb" -f "$home/page.sql"
  duck+=("${secs[duck_page]}")
done
duck_ms=$(python3 -c "import statistics,sys; print(round(1000*statistics.median(map(float, sys.argv[1:]))))" "${duck[@]}")

start() {
  "$lake" serve --addr 127.0.0.1:0 --token bench "$@" 2>"$home/serve.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$home/serve.log" && break; sleep 0.1; done
  base=$(grep -o 'listening on http://[0-9.:]*' "$home/serve.log" | head -1 | sed 's/^listening on //')
}
page() {
  "$python" bench/ui.py "$base" bench events "$runs" | python3 -c "
import json, statistics, sys
r = json.load(sys.stdin)
print(round(statistics.median(r['runs'])), ','.join(map(str, r['runs'])), ','.join(r['facets']))"
}
start --result-cache 0
read -r cold cold_runs facets < <(page)
kill "${pids[-1]}"
start
read -r warm warm_runs _ < <(page)

echo "dataset: $ui_rows rows, 8 columns; facets shown: $facets"
printf '%-44s %8s   %s\n' "" "median" "runs (ms)"
printf '%-44s %6s ms   %s\n' "DuckDB CLI, the page's statements in turn" "$duck_ms" "$(python3 -c "print(','.join(str(round(float(x)*1000)) for x in '${duck[*]}'.split()))")"
printf '%-44s %6s ms   %s   (%sx DuckDB)\n' "lake UI, every query run (no kept answers)" "$cold" "$cold_runs" "$(ratio "$cold" "$duck_ms")"
printf '%-44s %6s ms   %s   (%sx DuckDB)\n' "lake UI, answers kept (a second visit)" "$warm" "$warm_runs" "$(ratio "$warm" "$duck_ms")"
