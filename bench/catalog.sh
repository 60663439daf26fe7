#!/usr/bin/env bash
# The catalog on SQLite and on PostgreSQL side by side: 8 concurrent
# ingests of small files (commits per second) and the time of
# `lake sql 'select 1'` (what a catalog costs every command). PostgreSQL
# is a private cluster on loopback (scripts/postgres.sh), the store local.
#
#   bash bench/catalog.sh [INGESTS]     (default 400: 8 writers x 50)
#
# Not a test: nothing here asserts; read the figures.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

ingests="${1:-400}"
rows=1000
source bench/common.sh

pg_dir=$(mktemp -d /tmp/lake-bench-pg.XXXXXX)
trap 'bash scripts/postgres.sh stop "$pg_dir"' EXIT
server=$(bash scripts/postgres.sh start "$pg_dir")
psql "$server" -qc "CREATE DATABASE bench_catalog"
pg_url="${server%/*}/bench_catalog"

src="$work/catalog-src"
rm -rf "$src" && mkdir -p "$src"
for i in $(seq 1 "$ingests"); do printf 'id,v\n%s,%s\n' "$i" "$((i * 7))" > "$src/f$i.csv"; done

# Seconds for INGESTS ingests, 8 at a time, into 8 datasets (--append).
commits() { # HOME [--catalog URL]
  local home="$1"; shift
  python3 - "$lake" "$home" "$src" "$ingests" "$@" <<'PY'
import subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
lake, home, src, n, extra = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
def one(i):
    subprocess.run([lake, "--home", home, "-q", *extra, "ingest", f"{src}/f{i}.csv",
                    "--name", f"d{i % 8}", "--append"], check=True, stdout=subprocess.DEVNULL)
t = time.perf_counter()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, range(1, n + 1)))
print(f"{time.perf_counter() - t:.2f}")
PY
}
select1() { # HOME: seconds per `lake sql 'select 1'`, the mean of 20
  python3 - "$lake" "$1" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
for _ in range(20):
    subprocess.run([sys.argv[1], "--home", sys.argv[2], "sql", "select 1"], check=True, stdout=subprocess.DEVNULL)
print(f"{(time.perf_counter() - t) / 20 * 1000:.1f}")
PY
}

sqlite_home="$work/catalog-sqlite"; rm -rf "$sqlite_home"
pg_home="$work/catalog-postgres"; rm -rf "$pg_home"
"$lake" --home "$sqlite_home" -q init >/dev/null
"$lake" --home "$pg_home" -q init --catalog "$pg_url" >/dev/null
sqlite_s=$(commits "$sqlite_home")
pg_s=$(commits "$pg_home")
sqlite_ms=$(select1 "$sqlite_home")
pg_ms=$(select1 "$pg_home")
echo "duckdb (reference for a process start): $("$duckdb" --version | head -1)"
duck_ms=$(python3 - "$duckdb" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
for _ in range(20):
    subprocess.run([sys.argv[1], "-c", "select 1"], check=True, stdout=subprocess.DEVNULL)
print(f"{(time.perf_counter() - t) / 20 * 1000:.1f}")
PY
)

printf '\n%-34s %10s %12s\n' "catalog" "SQLite" "PostgreSQL"
printf '%-34s %10s %12s\n' "$ingests ingests, 8 at once (s)" "$sqlite_s" "$pg_s"
printf '%-34s %10s %12s\n' "commits per second" \
  "$(python3 -c "print(f'{$ingests/$sqlite_s:.1f}')")" "$(python3 -c "print(f'{$ingests/$pg_s:.1f}')")"
printf '%-34s %10s %12s\n' "lake sql 'select 1' (ms)" "$sqlite_ms" "$pg_ms"
printf '%-34s %10s\n' "duckdb -c 'select 1' (ms)" "$duck_ms"
echo
echo "target: PostgreSQL adds at most 30 ms to lake sql 'select 1' (here $(python3 -c "print(f'{$pg_ms-$sqlite_ms:+.1f}')") ms)"
