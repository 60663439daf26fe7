#!/usr/bin/env bash
# The whole HTTP round trip with curl: start `lake serve` on a free port over
# a fresh lake home, then put/get/list/delete an object, ingest a CSV both
# ways, read the catalog and run SQL.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

source scripts/build.sh

export LAKE_HOME="${LAKE_HOME:-$(mktemp -d)/lake}"
log=$(mktemp)
"$lake" serve --addr 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$log")
echo "# lake serve at $base, home $LAKE_HOME"

run() { echo; echo "\$ curl $*"; curl -sS "$@"; echo; }

run "$base/healthz"
run -X PUT --data-binary 'hello over http' "$base/v1/storage/notes/hello.txt"
run "$base/v1/storage/notes/hello.txt"
run "$base/v1/storage?prefix=notes/"
run -X DELETE -o /dev/null -w '%{http_code}' "$base/v1/storage/notes/hello.txt"
run -X POST -F file=@examples/people.csv "$base/v1/ingest"
run -X POST -H 'Content-Type: text/csv' --data-binary @examples/people.csv "$base/v1/ingest?name=people"
run "$base/v1/catalog/list"
run "$base/v1/catalog/people"
run -X POST -H 'Content-Type: application/json' -d '{"sql":"select name from people order by id"}' "$base/v1/sql"
run -X POST -H 'Content-Type: application/json' -d '{"sql":"copy people to '"'"'/tmp/x.csv'"'"'"}' "$base/v1/sql"
