#!/usr/bin/env bash
# A walk through lake on the local store: ingest, ls, show, sql, and the
# history every change leaves (snapshots, time travel, restore).
# Uses a fresh lake home in a temporary folder unless LAKE_HOME is set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

source scripts/build.sh

export LAKE_HOME="${LAKE_HOME:-$(mktemp -d)/lake}"
echo "# lake home: $LAKE_HOME"

run() {
  echo
  echo "\$ lake $*"
  "$lake" "$@"
}

run ingest examples/people.csv --format table
run ingest examples/people.csv --format table   # again: unchanged
run ls --format table
run show people --format table
run sql --format table "select name, age, joined from people order by id"
run sql --format csv "select active, count(*) as n, round(avg(score), 2) as avg_score from people group by active order by active"
run sql --format json "select name from people where age > 35 order by name"

# Every change is a DuckLake snapshot: time travel, history, restore.
gus="$(mktemp -d)/gus.csv"
printf 'id,name,email,age,joined,score,active\n7,Gus,gus@example.com,44,2024-03-01,81.5,true\n' > "$gus"
run ingest "$gus" --name people --append --format table
run sql --format csv "select count(*) as n from people"
run sql --at 1 --format csv "select count(*) as n from people"
run log --format table
run restore people --to 1 --format table
run info --format table   # includes the ATTACH statement for DuckDB
