"""Shared fixtures: one Prefect test harness and one S3-protocol server (moto) on loopback per session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS = REPO_ROOT / "seeds"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Task-result caches of test runs stay out of the user's home, in a folder removed when the session ends.
_OWN_CACHE_DIR = None if "CLEANWIRE_OPS__CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="cleanwire-test-cache-")
if _OWN_CACHE_DIR:
    os.environ["CLEANWIRE_OPS__CACHE_DIR"] = _OWN_CACHE_DIR


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE_DIR:
        shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API + database for every flow test (started once: it costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 wire-protocol server (moto's server mode) on 127.0.0.1; boto3 talks HTTP to it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing-key-id",
        AWS_SECRET_ACCESS_KEY="testing-secret-value",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_client(s3_endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def bucket(s3_client) -> str:
    """A fresh, empty bucket per test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def seeds_dir(tmp_path) -> Path:
    """A private copy of seeds/, so tests may add hostile files next to them."""
    target = tmp_path / "landing"
    shutil.copytree(SEEDS, target)
    return target
