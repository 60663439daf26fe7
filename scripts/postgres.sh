#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, in a directory of its own, on
# a free loopback port, owned by a user that is not root (initdb refuses
# root), with a generated password for the user `lake`. It speaks TLS with
# a certificate for 127.0.0.1 signed by a CA made for it (DIR/ca.crt), and
# the role `lake_tls` (same password) may only connect over TLS.
#
#   scripts/postgres.sh start DIR   # prints the URL: postgres://lake:...@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop DIR    # stops it and removes DIR
set -euo pipefail
cmd="$1"
dir="$2"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" > "$dir/pw"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pw"
    as_owner "$bin/initdb" -D "$dir/data" -U lake --pwfile="$dir/pw" \
      --auth=scram-sha-256 -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pw"
    # A CA and a server certificate for 127.0.0.1 and localhost.
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=lake test CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 7 -extfile "$dir/san.ext" -out "$dir/server.crt" >/dev/null 2>&1
    chmod 600 "$dir/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/server.key" "$dir/server.crt"
    chmod 644 "$dir/ca.crt"
    # lake_tls: TLS only (the first matching line wins).
    hba="$dir/data/pg_hba.conf"
    { echo "hostnossl all lake_tls 127.0.0.1/32 reject"; cat "$hba"; } > "$hba.new"
    cat "$hba.new" > "$hba" && rm -f "$hba.new"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    url="postgres://lake:$password@127.0.0.1:$port/postgres"
    psql "$url" -qc "CREATE ROLE lake_tls LOGIN CREATEDB PASSWORD '$password'" >/dev/null
    echo "$url"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
