"""S3 faults during a run, injected on the wire by a proxy in front of the moto server."""

from __future__ import annotations

import json

import polars as pl
import pytest

from flows.daily import daily_flow
from tasks.errors import StorageError, TransientStorageError
from tests.s3_faults import DROP, INTERNAL_ERROR, SLOW_DOWN, FaultyS3Proxy

pytestmark = pytest.mark.usefixtures("prefect_harness")

DAY = "2025-08-24"


@pytest.fixture
def landing(s3_client, seeds_dir, bucket) -> str:
    for path in sorted(seeds_dir.iterdir()):
        s3_client.upload_file(str(path), bucket, f"in/{DAY}/{path.name}")
    return bucket


def partition_keys(s3_client, bucket: str) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="lake/")
    return sorted(o["Key"] for o in listed.get("Contents", []) if "/ingest_date=" in o["Key"] and "_reports" not in o["Key"])


def manifest(s3_client, bucket: str) -> dict:
    return json.loads(s3_client.get_object(Bucket=bucket, Key=f"lake/_manifests/ingest_date={DAY}.json")["Body"].read())


def test_a_dropped_connection_is_retried_and_the_run_succeeds(s3_endpoint, landing):
    gets = []

    def drop_the_second_object_read(n, method, path):
        if method == "GET" and "/in/" in path and "list-type" not in path:
            gets.append(path)
            return DROP if len(gets) == 2 else None
        return None

    with FaultyS3Proxy(s3_endpoint, drop_the_second_object_read) as proxy:
        committed = daily_flow(
            source=f"s3://{landing}/in/{{date}}", dest=f"s3://{landing}/lake", date=DAY,
            overrides={"s3": {"endpoint_url": proxy.url}},
        )
    assert proxy.failed == 1 and len(gets) == 6  # five objects, one of them fetched twice
    assert committed["counts"] == {"inputs": 5, "articles": 4, "duplicates": 1, "quarantine": 0}


def test_a_publish_that_dies_at_the_commit_leaves_the_previous_partition_intact(s3_endpoint, s3_client, landing):
    source, dest = f"s3://{landing}/in/{{date}}", f"s3://{landing}/lake"
    daily_flow(source=source, dest=dest, date=DAY, run_id="good")
    before = partition_keys(s3_client, landing)

    def fail_the_manifest_write(n, method, path):
        return INTERNAL_ERROR if method == "PUT" and "/_manifests/" in path else None

    with FaultyS3Proxy(s3_endpoint, fail_the_manifest_write) as proxy, pytest.raises(TransientStorageError, match="InternalError"):
        daily_flow(source=source, dest=dest, date=DAY, run_id="dies", overrides={"s3": {"endpoint_url": proxy.url, "max_attempts": 2}})
    assert proxy.failed >= 2 * 4  # retried by botocore, then by the publish task (3 retries), then a clear failure

    # The commit point never moved: readers that follow the manifest see the good run, whole.
    assert manifest(s3_client, landing)["run_id"] == "good"
    options = {"aws_endpoint_url": s3_endpoint, "aws_allow_http": "true", "aws_region": "us-east-1"}
    files = manifest(s3_client, landing)["files"]
    assert pl.read_parquet(files["articles"], storage_options=options).height == 4
    debris = sorted(set(partition_keys(s3_client, landing)) - set(before))
    assert debris and all("part-dies" in key for key in debris)  # moved in, never committed
    assert not s3_client.list_objects_v2(Bucket=landing, Prefix="lake/_locks/").get("Contents")  # lock released

    # The next run of the date commits and cleans the dead run's files away.
    daily_flow(source=source, dest=dest, date=DAY, run_id="next")
    assert all("part-next" in key for key in partition_keys(s3_client, landing) if "/_manifests/" not in key)
    assert not s3_client.list_objects_v2(Bucket=landing, Prefix="lake/_staging/").get("Contents")


def object_gets(path: str, method: str) -> bool:
    return method == "GET" and "/in/" in path and "list-type" not in path


def test_more_503s_than_botocore_attempts_are_retried_by_the_read_task(s3_endpoint, landing):
    """Throttling that outlasts botocore's two attempts: the read task retries after a backoff and the
    run publishes every input; nothing is quarantined for a fault of the store."""
    failures = []

    def throttle_the_first_object_three_times(n, method, path):
        if object_gets(path, method) and path.endswith(".txt") and "000_" in path and len(failures) < 3:
            failures.append(path)
            return SLOW_DOWN
        return None

    with FaultyS3Proxy(s3_endpoint, throttle_the_first_object_three_times) as proxy:
        committed = daily_flow(
            source=f"s3://{landing}/in/{{date}}", dest=f"s3://{landing}/lake", date=DAY,
            overrides={"s3": {"endpoint_url": proxy.url, "max_attempts": 2}},
        )
    assert proxy.failed == 3
    assert committed["counts"] == {"inputs": 5, "articles": 4, "duplicates": 1, "quarantine": 0}


def test_a_read_that_still_fails_after_the_retries_fails_the_run(s3_endpoint, s3_client, landing):
    def always_throttle_one_object(n, method, path):
        return SLOW_DOWN if object_gets(path, method) and "000_" in path else None

    with FaultyS3Proxy(s3_endpoint, always_throttle_one_object) as proxy, pytest.raises(TransientStorageError, match="SlowDown"):
        daily_flow(
            source=f"s3://{landing}/in/{{date}}", dest=f"s3://{landing}/lake", date=DAY, run_id="throttled",
            overrides={"s3": {"endpoint_url": proxy.url, "max_attempts": 2}},
        )
    # botocore's first attempt and max_attempts=2 retries, for the task's first try and its three retries
    assert proxy.failed == 3 * 4
    assert not partition_keys(s3_client, landing)  # nothing published, nothing quarantined
    record = json.loads(s3_client.get_object(Bucket=landing, Key="lake/_runs/throttled.json")["Body"].read())
    assert record["outcome"] == "failed" and "SlowDown" in record["error"]


def test_access_denied_on_a_read_fails_the_run_at_once(s3_endpoint, s3_client, landing):
    denied = (403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")

    def deny_one_object(n, method, path):
        return denied if object_gets(path, method) and "000_" in path else None

    with FaultyS3Proxy(s3_endpoint, deny_one_object) as proxy, pytest.raises(StorageError, match="AccessDenied.*s3:GetObject"):
        daily_flow(source=f"s3://{landing}/in/{{date}}", dest=f"s3://{landing}/lake", date=DAY, overrides={"s3": {"endpoint_url": proxy.url}})
    assert proxy.failed == 1  # neither botocore nor the task retries a permanent error
    assert not partition_keys(s3_client, landing)
