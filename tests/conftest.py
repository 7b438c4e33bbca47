"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.stack import free_port, pouchdb_binary, start_pouchdb, stop

__all__ = ["free_port"]  # tests import it from here


def _pouchdb_bin() -> str | None:
    return pouchdb_binary(os.environ.get("SQUALL_POUCHDB_BIN"))


@pytest.fixture(scope="session")
def couchdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a CouchDB-API server: ``$SQUALL_TEST_COUCHDB_URL``, else a fresh in-memory pouchdb-server.

    No server available: a failure in CI, a skip elsewhere.
    """
    external = os.environ.get("SQUALL_TEST_COUCHDB_URL")
    if external:
        yield external.rstrip("/")
        return
    binary = _pouchdb_bin()
    if binary is None:
        message = "no CouchDB-API server: set SQUALL_TEST_COUCHDB_URL or SQUALL_POUCHDB_BIN"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url, process = start_pouchdb(binary, tmp_path_factory.mktemp("pouchdb"))
    try:
        yield url
    finally:
        stop(process)
