"""A DuckDB client from outside the project, for the tests: DuckDB 1.5 with
its ducklake, sqlite, postgres, parquet and httpfs extensions, loaded by path from
their PyPI wheels (never INSTALL: no internet).

Reads one JSON request on standard input:
  {"statements": ["ATTACH ...", "SELECT ..."], "cwd": "/dir" (optional)}
runs the statements in order on one connection, and prints
  {"results": [{"columns": [...], "rows": [[cell, ...], ...]}, ...]}
or {"error": "..."} with exit code 1 at the first statement that fails.
Cells are JSON values; anything JSON has no type for is its text.
"""

import datetime
import decimal
import glob
import json
import os
import sys

import duckdb

SITE = os.path.dirname(os.path.dirname(duckdb.__file__))


def connect():
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    for name in ["parquet", "sqlite_scanner", "postgres_scanner", "ducklake", "httpfs"]:
        paths = glob.glob(f"{SITE}/duckdb_extension_{name}/extensions/*/*.duckdb_extension")
        if not paths:
            raise SystemExit(f"no {name} extension in {SITE}: install duckdb-extension-{name}")
        con.execute(f"LOAD '{paths[0]}'")
    return con


def cell(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (datetime.date, datetime.time, decimal.Decimal)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [cell(x) for x in v]
    if isinstance(v, dict):
        return {str(k): cell(x) for k, x in v.items()}
    return str(v)


def main():
    request = json.load(sys.stdin)
    if request.get("cwd"):
        os.chdir(request["cwd"])
    con = connect()
    results = []
    for sql in request["statements"]:
        try:
            cur = con.execute(sql)
            rows = cur.fetchall()
            columns = [d[0] for d in (cur.description or [])]
        except Exception as e:  # noqa: BLE001 - every DuckDB error is reported
            print(json.dumps({"error": f"{type(e).__name__}: {e}", "statement": sql}))
            sys.exit(1)
        results.append({"columns": columns, "rows": [[cell(v) for v in row] for row in rows]})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
