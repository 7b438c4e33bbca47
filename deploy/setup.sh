#!/bin/sh
# The `setup` service of deploy/compose.yaml: what a deployment needs before its first start, and what is
# safe to run again at every start (each step skips what is already there).
set -eu

echo "setup: CouchDB's system databases"
# CouchDB 3 on a single node expects _users and _replicator and logs an error every few seconds without them;
# Squall's own databases are created by the first process that opens the store.
python3 -c '
import os, sys, httpx
url = os.environ["SQUALL_COUCHDB_URL"].rstrip("/")
for db in ("_users", "_replicator"):
    answer = httpx.put(f"{url}/{db}", headers={"Accept": "application/json"}, timeout=30)
    if answer.status_code not in (201, 202, 412):  # 412: it exists
        sys.exit(f"PUT /{db}: {answer.status_code} {answer.text}")
'

# The catalog first: it makes whisk.system with a random key, so `admin seed` adds only guest and its
# well-known key (a whisk.system key everyone knows could replace the feed actions).
echo "setup: Squall's databases and the /whisk.system catalog (utils, alarms)"
squall admin catalog install
echo "setup: the guest subject"
squall admin seed

echo "setup: runtime images missing from this host's Docker (base: ${RUNTIMES_BASE:-public})"
squall runtimes build --missing --base "${RUNTIMES_BASE:-public}"
echo "setup: done"
