"""End-to-end tests run against the same real stack as the integration tests."""

from tests.integration.conftest import api, stack, unique

__all__ = ["api", "stack", "unique"]
