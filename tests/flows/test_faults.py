"""S3 faults during a run, injected on the wire by a proxy in front of the moto server."""

from __future__ import annotations

import json

import polars as pl
import pytest

from flows.daily import daily_flow
from tasks.errors import StorageError
from tests.s3_faults import DROP, INTERNAL_ERROR, FaultyS3Proxy

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

    with FaultyS3Proxy(s3_endpoint, fail_the_manifest_write) as proxy, pytest.raises(StorageError, match="InternalError"):
        daily_flow(source=source, dest=dest, date=DAY, run_id="dies", overrides={"s3": {"endpoint_url": proxy.url, "max_attempts": 2}})
    assert proxy.failed >= 2  # retried by botocore (and s3transfer), then a clear failure

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
