"""The Python side of bench/vectors.sh: data, the hnswlib reference, recall.

  gen N DIM QUERIES DIR   clustered float32 vectors (seeded): DIR/data.parquet
                          (id, emb FLOAT[DIM]), DIR/data.npy, and QUERIES
                          query vectors near the same clusters, not in the
                          data: DIR/queries.jsonl (a JSON list per line) and
                          DIR/queries.npy
  digits DIR QUERIES      scikit-learn's digits (a real set) the same way
  hnswlib DIR M EFC EF K THREADS
                          builds hnswlib's index of DIR/data.npy (cosine) on
                          THREADS threads and searches every query on one;
                          writes DIR/hnswlib.jsonl (ids per query), prints
                          {"build_s", "p50_ms", "p95_ms", "rss_mib"}
  recall DIR TRUTH FOUND K
                          recall@K of FOUND against TRUTH (JSON lines of
                          {"ids"}), by distance: a found row counts when it is
                          no farther than TRUTH's K-th (ties count)
"""

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def write_parquet(path, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, dim = data.shape
    values = pa.array(data.reshape(-1), type=pa.float32())
    emb = pa.FixedSizeListArray.from_arrays(values, dim)
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "emb": emb})
    pq.write_table(table, path, row_group_size=100_000)


def save(out, data, queries):
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "data.parquet", data)
    np.save(out / "data.npy", data)
    np.save(out / "queries.npy", queries)
    with open(out / "queries.jsonl", "w") as f:
        for q in queries:
            f.write("[" + ", ".join(f"{x:.6f}" for x in q) + "]\n")


def gen(n, dim, nq, out):
    rng = np.random.default_rng(42)
    centres = rng.normal(0, 1, (1000, dim)).astype(np.float32)
    which = rng.integers(0, len(centres), n + nq)
    points = centres[which] + rng.normal(0, 0.35, (n + nq, dim)).astype(np.float32)
    save(out, points[:n], points[n:])


def digits(out, nq):
    from sklearn.datasets import load_digits

    data = load_digits().data.astype(np.float32)
    rng = np.random.default_rng(7)
    picked = rng.choice(len(data), nq, replace=False)
    # The queries are images of the set, slightly disturbed.
    queries = data[picked] + rng.normal(0, 0.5, (nq, data.shape[1])).astype(np.float32)
    save(out, data, queries)


def unit(x):
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def read_ids(path):
    with open(path) as f:
        return [json.loads(line)["ids"] for line in f]


def recall(out, truth, found, k):
    data = unit(np.load(out / "data.npy"))
    queries = unit(np.load(out / "queries.npy"))
    hits = 0
    for q, t, f in zip(queries, read_ids(truth), read_ids(found)):
        kth = (1 - data[t[:k]] @ q).max()
        d = 1 - data[f[:k]] @ q if f else np.array([])
        hits += int((d <= kth + 1e-5).sum())
    return hits / (k * len(queries))


def hnsw(out, m, efc, ef, k, threads):
    import hnswlib

    data = np.load(out / "data.npy")
    queries = np.load(out / "queries.npy")
    index = hnswlib.Index(space="cosine", dim=data.shape[1])
    started = time.perf_counter()
    index.init_index(max_elements=len(data), M=m, ef_construction=efc, random_seed=100)
    index.set_num_threads(threads)
    index.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - started
    index.set_ef(ef)
    index.set_num_threads(1)
    times = []
    with open(out / "hnswlib.jsonl", "w") as f:
        for q in queries:
            started = time.perf_counter()
            labels, _ = index.knn_query(q, k=k)
            times.append(time.perf_counter() - started)
            f.write(json.dumps({"ids": [int(x) for x in labels[0]]}) + "\n")
    times.sort()
    print(json.dumps({
        "build_s": round(build, 3),
        "p50_ms": round(1000 * times[len(times) // 2], 3),
        "p95_ms": round(1000 * times[int(len(times) * 0.95)], 3),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "gen":
        gen(int(args[0]), int(args[1]), int(args[2]), Path(args[3]))
    elif cmd == "digits":
        digits(Path(args[0]), int(args[1]))
    elif cmd == "hnswlib":
        hnsw(Path(args[0]), *map(int, args[1:]))
    elif cmd == "recall":
        print(f"{recall(Path(args[0]), args[1], args[2], int(args[3])):.4f}")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
