#!/bin/sh
# pouchdb-server as couchdb:3 starts: the admin of COUCHDB_USER/COUCHDB_PASSWORD (no admin party), data kept
# in /opt/couchdb/data. pouchdb-server hashes the password in its config file at start.
set -eu
config=/opt/couchdb/data/config.json
if [ ! -e "$config" ]; then
  printf '{"admins": {"%s": "%s"}}\n' "${COUCHDB_USER:?}" "${COUCHDB_PASSWORD:?}" > "$config"
fi
exec /opt/pouchdb/node_modules/.bin/pouchdb-server --host 0.0.0.0 --port 5984 \
  --dir /opt/couchdb/data --config "$config"
