"""Fetches one big answer from `lake serve` and prints `seconds bytes rows`:
through Flight SQL (the ADBC driver), `/v1/sql?format=arrow`, or JSON.
The second of two fetches in this process is timed (a client warmed up, as
a notebook or a BI tool is: the first loads the driver's runtime), each
with its own connection. Used by bench/serve.sh; not a test.

    python fetch.py flight|arrow|json HTTP_BASE FLIGHT_URI SQL
"""
import json
import sys
import time
import urllib.request

import adbc_driver_flightsql.dbapi as flight
import pyarrow.ipc

method, http, flight_uri, sql = sys.argv[1:5]


def fetch():
    if method == "flight":
        with flight.connect(flight_uri) as conn:
            with conn.cursor() as cur:
                cur.execute(sql)
                table = cur.fetch_arrow_table()
        rows, size = table.num_rows, table.nbytes
    else:
        fmt = "arrow" if method == "arrow" else "json"
        req = urllib.request.Request(
            f"{http}/v1/sql?format={fmt}",
            data=json.dumps({"sql": sql}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as resp:
            body = resp.read()
        size = len(body)
        if fmt == "arrow":
            rows = pyarrow.ipc.open_stream(body).read_all().num_rows
        else:
            rows = len(json.loads(body)["rows"])
    return size, rows


fetch()
started = time.perf_counter()
size, rows = fetch()
print(f"{time.perf_counter() - started:.3f} {size} {rows}")
