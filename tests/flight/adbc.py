"""The ADBC Flight SQL driver (adbc-driver-flightsql, from PyPI) against
`lake serve --flight-addr`: what a notebook, pandas/polars or a BI tool's
driver does. Reads a JSON request on stdin, prints JSON facts for the Rust
test to check (it decides; this script only gathers).

request: {"uri", "token", "http", "sql", "at", "tls_root"?}
"""
import json
import sys
import urllib.request

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight
import pyarrow as pa
import pyarrow.ipc

req = json.load(sys.stdin)
out = {}
Db = adbc_driver_flightsql.DatabaseOptions


def connect(token=None, extra=None):
    kwargs = {}
    if token is not None:
        kwargs[Db.AUTHORIZATION_HEADER.value] = f"Bearer {token}"
    if req.get("tls_root"):
        kwargs[Db.TLS_ROOT_CERTS.value] = req["tls_root"]
    kwargs.update(extra or {})
    return flight.connect(req["uri"], db_kwargs=kwargs)


def error_of(fn):
    """The error a call raises, as text (None when it does not)."""
    try:
        fn()
    except Exception as e:  # the driver's own error classes
        return f"{type(e).__name__}: {e}"
    return None


def http_arrow(sql, at=None):
    body = {"sql": sql}
    if at is not None:
        body["at"] = at
    r = urllib.request.Request(
        req["http"] + "/v1/sql?format=arrow",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {req['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(r) as resp:
        return pa.ipc.open_stream(resp.read()).read_all()


def plain(table):
    """A table as JSON-able rows (same answer, same text)."""
    return [[None if v is None else str(v) for v in row.values()] for row in table.to_pylist()]


if req.get("only") == "select":
    # One query: over TLS, with the CA given (or not).
    def select():
        with connect(req["token"]) as conn:
            with conn.cursor() as cur:
                cur.execute(req["sql"])
                return plain(cur.fetch_arrow_table())

    try:
        out["rows"] = select()
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out, default=str))
    sys.exit(0)

with connect(req["token"]) as conn:
    with conn.cursor() as cur:
        cur.execute(req["sql"])
        table = cur.fetch_arrow_table()
    via_http = http_arrow(req["sql"])
    out["rows"] = plain(table)
    out["same_as_http"] = table.equals(via_http)
    out["schema"] = str(table.schema)
    out["http_schema"] = str(via_http.schema)

    # Prepared, with a parameter, run twice.
    with conn.cursor() as cur:
        names = []
        for id_ in (1, 3):
            cur.execute("SELECT name FROM people WHERE id = ?", parameters=(id_,))
            names.append(cur.fetch_arrow_table().column("name").to_pylist())
        cur.execute("SELECT count(*) AS n FROM people WHERE name = ? OR age > ?", parameters=("Bob", 40))
        names.append(cur.fetch_arrow_table().column("n").to_pylist())
    out["prepared"] = names

    # The catalog as drivers see it.
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    out["objects"] = [
        {
            "catalog": c["catalog_name"],
            "schema": s["db_schema_name"],
            "table": t["table_name"],
            "type": t["table_type"],
            "columns": [col["column_name"] for col in (t["table_columns"] or [])],
        }
        for c in objects
        for s in (c["catalog_db_schemas"] or [])
        for t in (s["db_schema_tables"] or [])
    ]
    out["table_schema"] = str(conn.adbc_get_table_schema("people", catalog_filter="temp", db_schema_filter="main"))
    info = conn.adbc_get_info()
    out["info"] = {k: str(v) for k, v in info.items()}
    out["table_types"] = conn.adbc_get_table_types()

    # A name the driver qualifies runs as it is.
    with conn.cursor() as cur:
        cur.execute('SELECT count(*) AS n FROM "temp"."main"."people"')
        out["qualified"] = cur.fetch_arrow_table().column("n").to_pylist()

    # The sandbox: nothing but one SELECT.
    def hostile(sql):
        def run():
            with conn.cursor() as cur:
                cur.execute(sql)
                cur.fetch_arrow_table()
        return error_of(run)

    out["hostile"] = {
        sql: hostile(sql)
        for sql in [
            "COPY (SELECT 1) TO '/tmp/lake-flight-escape.csv'",
            "ATTACH '/tmp/lake-flight-escape.db' AS x",
            "SELECT 1; SELECT 2",
            "SELECT * FROM read_csv('/etc/passwd')",
        ]
    }
    out["sql_error"] = hostile("SELECT no_such_column FROM people")

# Time travel: the snapshot as the call header x-lake-at.
if req.get("at") is not None:
    header = Db.RPC_CALL_HEADER_PREFIX.value + "x-lake-at"
    with connect(req["token"], {header: str(req["at"])}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM people")
            out["at_count"] = cur.fetch_arrow_table().column("n").to_pylist()
    out["at_http"] = http_arrow("SELECT count(*) AS n FROM people", req["at"]).column("n").to_pylist()

# Basic authentication, the password being the token (JDBC's way).
def basic(password):
    def run():
        with connect(extra={"username": "anyone", "password": password}) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 AS one")
                return cur.fetch_arrow_table()
    return run


def basic_answer(password):
    try:
        return basic(password)().column("one").to_pylist()
    except Exception as e:
        return f"{type(e).__name__}: {e}"


out["basic_right"] = basic_answer(req["token"])
out["basic_wrong"] = basic_answer("not-the-token")
out["wrong_token"] = error_of(lambda: connect("not-the-token").cursor().execute("SELECT 1"))
out["no_token"] = error_of(lambda: connect().cursor().execute("SELECT 1"))

print(json.dumps(out, default=str))
