#!/usr/bin/env bash
# Peak memory of `lake ingest` on rows of 100 KB (issue 9: memory follows a
# budget, not the width of the rows). Usage: bench/wide.sh [MB] (default 2000).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
mb="${1:-2000}"
source scripts/build.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$mb" "$work/wide.csv" <<'PY'
import random, sys
mb, path = int(sys.argv[1]), sys.argv[2]
r = random.Random(1)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
block = "".join(r.choice(alphabet) for _ in range(1 << 16))
with open(path, "w") as f:
    f.write("id,a,b\n")
    for i in range(mb * 10):  # 10 rows of 100 KB per MB
        a = block[(i * 7919) % 1000:][:50_000]
        b = block[(i * 104729) % 1000:][:50_000]
        f.write(f"{i},{a}{i},{b}{i}\n")
PY
echo "input: $(du -h "$work/wide.csv" | cut -f1) of 100 KB rows"
/usr/bin/time -o "$work/time.txt" -f "%e %M" "$lake" --home "$work/home" -q ingest "$work/wide.csv" >/dev/null
read -r secs kib <"$work/time.txt"
echo "lake ingest: ${secs} s, peak $((kib / 1024)) MiB (goal: under 300 MiB)"
