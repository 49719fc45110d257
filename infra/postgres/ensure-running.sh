#!/usr/bin/env bash
# Makes sure a Postgres server answers on 127.0.0.1:5432 with trust auth for local tests:
# starts the machine's cluster if it is stopped, installs Debian's postgresql if there is none.
set -euo pipefail
HOST=127.0.0.1
PORT=${PGPORT:-5432}

ready() { pg_isready -h "$HOST" -p "$PORT" -q 2>/dev/null; }

if command -v pg_isready >/dev/null 2>&1 && ready; then
  echo "postgres: already running on $HOST:$PORT"
  exit 0
fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "postgres: no cluster found; installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
# Tests connect as postgres over TCP without a password: trust loopback only.
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
echo "postgres: starting cluster $version/main"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
for _ in $(seq 1 30); do
  ready && { echo "postgres: ready on $HOST:$PORT"; exit 0; }
  sleep 1
done
echo "postgres: not reachable on $HOST:$PORT after 30 s" >&2
exit 1
