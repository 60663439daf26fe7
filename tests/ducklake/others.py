"""Readers of a DuckLake written without DuckDB, for lake's tests:
polars-ducklake (a reader of the DuckLake spec on Polars) and PySpark in
local mode through ducklake-dataframe (Spark's own Parquet reader), both
pinned in `.ci/run`.

Reads one JSON request on standard input:
  {"catalog": "/path/catalog.sqlite" or "postgresql://...",
   "table": "people", "snapshots": [null, 3], "readers": ["polars", "spark"]}
and prints {"polars": [[rows at each snapshot]], "spark": [...]}: each
snapshot's rows (null: the newest), every value as the text DuckDB's
::VARCHAR gives it (NULL as null), sorted; or {"error": ...} with exit 1.
"""

import datetime
import json
import math
import sys


def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    return str(v)


def rows_of(records):
    rows = [[text(v) for v in r] for r in records]
    return sorted(rows, key=lambda r: [(x is None, x or "") for x in r])


def polars_rows(catalog, table, snapshot):
    import polars_ducklake as pdl

    url = catalog if "://" in catalog else "sqlite:///" + catalog
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme):]
    frame = pdl.scan_ducklake(url, table, snapshot_id=snapshot).collect()
    return {"columns": frame.columns, "rows": rows_of(frame.iter_rows())}


SPARK = None


def spark_rows(catalog, table, snapshot):
    global SPARK
    from ducklake_pyspark import read_ducklake
    from pyspark.sql import SparkSession

    if SPARK is None:
        SPARK = (
            SparkSession.builder.master("local[2]")
            .appName("lake-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "1g")
            .getOrCreate()
        )
        SPARK.sparkContext.setLogLevel("ERROR")
    frame = read_ducklake(SPARK, catalog, table, snapshot_version=snapshot)
    return {"columns": frame.columns, "rows": rows_of(tuple(r) for r in frame.collect())}


def main():
    request = json.load(sys.stdin)
    readers = {"polars": polars_rows, "spark": spark_rows}
    out = {}
    try:
        for name in request["readers"]:
            read = readers[name]
            out[name] = [
                read(request["catalog"], request["table"], s) for s in request["snapshots"]
            ]
    except Exception as e:  # noqa: BLE001 - every reader's error is reported
        print(json.dumps({"error": f"{name}: {type(e).__name__}: {e}"}))
        sys.exit(1)
    finally:
        if SPARK is not None:
            SPARK.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
