#!/usr/bin/env bash
# Installs (once) and starts (if not running) everything the test suite talks to:
# Docker Engine and docker-compose, RabbitMQ, Redis, a CouchDB-API server (pouchdb-server from npm), Chromium,
# and the toolchains of the action-loop kinds (Go, Java, PHP, Ruby, Rust) for the process factory.
# Idempotent and quick when all is in place. Run as root.
set -euo pipefail

DEPS=${SQUALL_DEPS_DIR:-/opt/squall-deps}
LOGS=${SQUALL_LOG_DIR:-/var/log/squall-test}
mkdir -p "$DEPS" "$LOGS"

say() { printf '==> %s\n' "$*"; }

wait_for() {  # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "error: $what did not come up within ${secs}s; see $LOGS" >&2
  return 1
}

apt_updated=0
need_pkg() {  # need_pkg <command> <debian package>
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "$apt_updated" = 0 ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi
    say "installing $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

need_pkg dockerd docker.io
need_pkg debootstrap debootstrap
need_pkg redis-server redis-server
need_pkg rabbitmq-server rabbitmq-server
need_pkg node nodejs
need_pkg npm npm
need_pkg chromium chromium  # the admin pages' browser test (Playwright drives this system browser)
# deploy/compose.yaml's test (tests/integration/test_compose.py): bookworm packages Compose 1.29, not v2
need_pkg docker-compose docker-compose

need_file() {  # need_file <path> <debian packages...>: for what has no command of its own on PATH
  local path=$1; shift
  if [ ! -e "$path" ]; then
    if [ "$apt_updated" = 0 ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
# The action-loop kinds in the process factory run on the host's toolchains (the images have their own).
need_file /usr/bin/ruby ruby
need_file /usr/bin/php php-cli
need_file /usr/bin/go golang-go
need_file /usr/bin/javac default-jdk-headless
need_file /usr/share/java/gson.jar libgoogle-gson-java
need_file /usr/bin/rustc rustc cargo  # Debian's, whatever rustup put first on PATH: the crates below are built for it
need_file /usr/share/doc/librust-libc-dev librust-serde-json-dev librust-serde-derive-dev librust-libc-dev

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  (setsid dockerd >"$LOGS/dockerd.log" 2>&1 &)
  wait_for dockerd 60 docker info
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  say "starting redis"
  mkdir -p /var/lib/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile "$LOGS/redis.log"
  wait_for redis 20 redis-cli -h 127.0.0.1 ping
fi

amqp_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! amqp_up; then
  say "starting rabbitmq"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for rabbitmq 90 amqp_up
fi

POUCH="$DEPS/pouchdb/node_modules/.bin/pouchdb-server"
if [ ! -x "$POUCH" ]; then
  say "installing pouchdb-server 4.2.0 from npm (about a minute)"
  mkdir -p "$DEPS/pouchdb"
  (cd "$DEPS/pouchdb" && npm install --no-audit --no-fund --loglevel=error pouchdb-server@4.2.0 >/dev/null)
fi
CLIENT="$DEPS/npm-client/node_modules/openwhisk"
if [ ! -d "$CLIENT" ]; then
  say "installing the npm openwhisk client (for the end-to-end tests)"
  mkdir -p "$DEPS/npm-client"
  (cd "$DEPS/npm-client" && npm install --no-audit --no-fund --loglevel=error openwhisk@3 >/dev/null)
fi
say "services ready (docker, redis, rabbitmq; pouchdb-server at $POUCH)"
