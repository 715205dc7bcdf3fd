"""Shared test fixtures: the read-only reference data beside the repository."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
START = datetime(2026, 8, 22, tzinfo=timezone.utc)   # the shared TLE snapshot date


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder; its absence is a failure, not a skip."""
    assert SHARED_DATA.is_dir(), f"reference data missing: {SHARED_DATA}"
    return SHARED_DATA


#: test files that start a Dask cluster: distributed leaves threads behind (an idle
#: offload thread at least), and beside other threads sigma-sn no longer forks
#: (sigma_sn.forked.can_fork), so every test after them would take the in-process path
#: and the fork pool would go untested. They run last.
RUN_LAST = ("test_compute.py",)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name in RUN_LAST)   # stable: order kept otherwise
