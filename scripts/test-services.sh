#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are up: PostgreSQL on 127.0.0.1:5432 (user
# postgres, no password) and Redis on 127.0.0.1:6379. SeaweedFS is started by the suite itself.
# A server that is installed but stopped is started; on a Debian/Ubuntu machine where we are
# root, a missing one is installed first. Nothing is changed where both already answer.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
can_install() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
wait_for() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  echo "error: nothing answers on 127.0.0.1:$1 after starting $2" >&2
  return 1
}

if ! up 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    can_install || { echo "error: PostgreSQL is not running on 127.0.0.1:5432" >&2; exit 1; }
    echo "Installing PostgreSQL for the test suite"
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # The suite connects as postgres over TCP without a password (as CI's server allows).
  if [ -w "$hba" ] && ! grep -q "qualarchive-tests" "$hba"; then
    sed -i '1i host all postgres 127.0.0.1/32 trust # qualarchive-tests' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start
  wait_for 5432 PostgreSQL
fi

if ! up 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    can_install || { echo "error: Redis is not running on 127.0.0.1:6379" >&2; exit 1; }
    echo "Installing Redis for the test suite"
    apt_install redis-server
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/qualarchive-test-redis.log
  wait_for 6379 Redis
fi
