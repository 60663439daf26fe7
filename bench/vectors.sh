#!/usr/bin/env bash
# Vector search: lake's HNSW (`lake index create`, `vector_search` in SQL)
# against DuckDB's exact scan (the same embedded DuckDB, in process) and
# against hnswlib (PyPI, same M / ef_construction / ef, same cores), on
# clustered vectors and on scikit-learn's digits. Prints recall@10, build
# seconds, search latency (p50 / p95) and peak memory, with ratios.
#
#   bash bench/vectors.sh            # 100,000 x 128, then 1,000,000 x 128
#   VECTOR_SIZES=100000 bash bench/vectors.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${rows:-5000000}
source bench/common.sh
cargo build --quiet --example vector_search
search="${CARGO_TARGET_DIR:-target}/debug/examples/vector_search"

# hnswlib, pyarrow and scikit-learn, pinned, beside DuckDB's command line.
if ! "$venv/bin/python" -c "import hnswlib, pyarrow, sklearn" 2>/dev/null; then
  "$venv/bin/pip" install -q hnswlib==0.8.0 numpy==2.4.6 pyarrow==26.0.1 \
    scikit-learn==1.9.1 scipy==1.17.1 joblib==1.6.0 threadpoolctl==3.8.0 \
    narwhals==2.29.0 cloudpickle==3.1.3
fi
py="$venv/bin/python"
m=16; efc=200; ef=${VECTOR_EF:-100}; k=10; threads=$(nproc)

# Percentiles of a JSON-lines file's "seconds", in milliseconds.
latency() {
  python3 -c "
import json, sys
t = sorted(json.loads(l)['seconds'] for l in open(sys.argv[1]))
print(f'{1000*t[len(t)//2]:.2f} {1000*t[int(len(t)*0.95)]:.2f}')" "$1"
}

run_set() {
  local name="$1" dir="$2"
  local home="$dir/home"
  rm -rf "$home"
  "$lake" --home "$home" init >/dev/null
  measure "$name-ingest" "$lake" --home "$home" ingest "$dir/data.parquet" --name vec -q
  measure "$name-index" "$lake" --home "$home" index create vec emb --m $m --ef-construction $efc -q
  local index_bytes
  index_bytes=$(find "$home/store" -name '*.hnsw' -printf '%s\n' | awk '{s+=$1} END {print s}')
  "$search" "$home" vec exact $k $ef "$dir/queries.jsonl" > "$dir/exact.jsonl"
  /usr/bin/time -o "$work/time.txt" -f "%M" \
    "$search" "$home" vec index $k $ef "$dir/queries.jsonl" > "$dir/lake.jsonl"
  local search_kib
  search_kib=$(tail -1 "$work/time.txt")
  local hn
  hn=$("$py" bench/vectors.py hnswlib "$dir" $m $efc $ef $k "$threads")
  local r_lake r_hnsw
  r_lake=$("$py" bench/vectors.py recall "$dir" "$dir/exact.jsonl" "$dir/lake.jsonl" $k)
  r_hnsw=$("$py" bench/vectors.py recall "$dir" "$dir/exact.jsonl" "$dir/hnswlib.jsonl" $k)
  read -r exact_p50 exact_p95 <<<"$(latency "$dir/exact.jsonl")"
  read -r lake_p50 lake_p95 <<<"$(latency "$dir/lake.jsonl")"
  local h_build h_p50 h_p95
  h_build=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['build_s'])" "$hn")
  h_p50=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['p50_ms'])" "$hn")
  h_p95=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['p95_ms'])" "$hn")
  echo
  echo "== $name: M=$m ef_construction=$efc ef_search=$ef k=$k, $threads cores"
  printf '%-28s %10s %10s %10s\n' "" lake hnswlib "lake/hnsw"
  printf '%-28s %10s %10s\n' "recall@$k (vs DuckDB exact)" "$r_lake" "$r_hnsw"
  printf '%-28s %10s %10s %10s\n' "build s" "${secs[$name-index]}" "$h_build" \
    "$(ratio "${secs[$name-index]}" "$h_build")"
  printf '%-28s %10s %10s %10s\n' "search p50 ms" "$lake_p50" "$h_p50" "$(ratio "$lake_p50" "$h_p50")"
  printf '%-28s %10s %10s %10s\n' "search p95 ms" "$lake_p95" "$h_p95" "$(ratio "$lake_p95" "$h_p95")"
  echo "DuckDB exact scan p50 / p95 ms: $exact_p50 / $exact_p95 (index is $(ratio "$exact_p50" "$lake_p50")x faster at p50)"
  echo "ingest s: ${secs[$name-ingest]}; index build peak MiB: $(( ${mem[$name-index]} / 1024 ))"
  echo "index objects: $(( index_bytes / 1048576 )) MiB; search process peak: $(( search_kib / 1024 )) MiB ($(ratio "$search_kib" "$(( index_bytes / 1024 ))")x the index)"
}

for n in ${VECTOR_SIZES:-100000 1000000}; do
  dir="$work/vectors-$n"
  if [ ! -s "$dir/data.parquet" ]; then
    # DuckDB's exact scan of 1M vectors takes seconds a query: fewer queries.
    queries=$(( n >= 1000000 ? 50 : 200 ))
    echo "generating $n x 128 clustered vectors and $queries queries into $dir"
    "$py" bench/vectors.py gen "$n" 128 "$queries" "$dir"
  fi
  run_set "clustered-$n" "$dir"
done
dir="$work/vectors-digits"
[ -s "$dir/data.parquet" ] || "$py" bench/vectors.py digits "$dir" 200
run_set "digits" "$dir"
