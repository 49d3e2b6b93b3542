"""Shared test setup: hypothesis profiles and paths to the shared test data.

Profiles: ``dev`` (the default: quick), ``ci`` (more examples, still bounded so
the whole suite stays under 10 minutes on 2 cores). Choose one with
``HYPOTHESIS_PROFILE=ci``; CI sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = ROOT.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared, read-only test data folder (see its MANIFEST.md); skips when absent."""
    if not SHARED_TESTDATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_TESTDATA}")
    return SHARED_TESTDATA


@pytest.fixture(scope="session")
def sitk():
    """SimpleITK, the reference oracle; tests that take it skip when it is missing."""
    return pytest.importorskip("SimpleITK")
