#!/usr/bin/env bash
# A walk through lake on the local store: ingest, ls, show, sql.
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
