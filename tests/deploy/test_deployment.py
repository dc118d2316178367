"""The scheduled deployment, as an operator runs it: infra/local-stack.sh starts PostgreSQL, a Prefect
server on it (scheduler on), the work pool, prefect.yaml's deployments and a process worker, with the
S3 side on moto; the tests drive the real CLIs (`prefect deployment run`, `cleanwire run`) and read
the results back from S3 and the server's API.

The tests of this module share one stack and run in file order (each assumes the ones before it
published their partitions). The stack is stopped and deleted at the end, also after a failure.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import polars as pl
import pytest

from tests.conftest import REPO_ROOT, SEEDS

pytestmark = pytest.mark.deploy

STACK_SCRIPT = REPO_ROOT / "infra" / "local-stack.sh"
DAILY, BACKFILL = "cleanwire-daily/cleanwire-daily", "cleanwire-backfill/cleanwire-backfill"
LANDING, LAKE = "landing", "lake"
DAY = "2025-08-24"  # the seeds, after every seed's published date
# Three dates for the backfill: the seeds split so that each date has articles and the last one a
# rewrite of one of its own (as in tests/flows/test_backfill.py).
BACKFILL_DAYS = {
    "2025-09-01": ["000_9338658408113c0f.txt"],
    "2025-09-02": ["002_25261fa121ad078b.txt", "003_25a36b2e330e5d01.txt"],
    "2025-09-03": ["004_ccae10307af83746.txt", "001_5677622f87daf84b.txt"],
}
RUN_TIMEOUT_S = 120

# Settings of the stack's processes that only shorten waits; the schedule, pool and deployments
# are prefect.yaml's. The scheduler plans 400 runs ahead (default: 100 days), so the upcoming runs
# always span both daylight-saving changes of a year.
FAST_FEEDBACK = {
    "PREFECT_WORKER_QUERY_SECONDS": "1",  # the worker polls the pool every second (default 10)
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "1",  # a queued run retries every second (default 30)
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "400",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "400",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": "P400D",
    "PREFECT_UI_ENABLED": "false",
}


@dataclass
class Stack:
    folder: Path
    env: dict[str, str]

    @property
    def api(self) -> str:
        return self.env["PREFECT_API_URL"]

    def run(self, *args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
        """A command in the operator's shell: the venv on PATH, the stack's stack.env sourced."""
        return subprocess.run(args, env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)

    def logs(self, name: str = "worker", lines: int = 60) -> str:
        path = self.folder / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def get(self, path: str) -> dict:
        response = httpx.get(f"{self.api}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> list:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def s3(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )


def read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    folder = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "AWS_"))}
    env |= FAST_FEEDBACK | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    try:
        up = subprocess.run(
            [str(STACK_SCRIPT), "up", str(folder), "--s3"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
        )
        stack = Stack(folder, env)
        assert up.returncode == 0, f"local-stack.sh up failed:\n{up.stderr}\n{stack.logs('up')}\n{stack.logs('server')}"
        yield Stack(folder, env | read_env_file(folder / "stack.env"))
    finally:
        subprocess.run([str(STACK_SCRIPT), "destroy", str(folder)], env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def landed(stack: Stack) -> None:
    """The scrapes in the landing bucket where prefect.yaml's `source` looks: scrapes/<date>/."""
    s3 = stack.s3()
    for path in sorted(SEEDS.iterdir()):
        s3.upload_file(str(path), LANDING, f"scrapes/{DAY}/{path.name}")
    for day, names in BACKFILL_DAYS.items():
        for name in names:
            s3.upload_file(str(SEEDS / name), LANDING, f"scrapes/{day}/{name}")


def run_deployment(stack: Stack, name: str, *params: str) -> str:
    """`prefect deployment run NAME --param … --watch`: the flow run's id once it finished; fails unless it completed."""
    args = [arg for param in params for arg in ("--param", param)]
    done = stack.run("prefect", "deployment", "run", name, *args, "--watch", "--watch-timeout", str(RUN_TIMEOUT_S))
    assert done.returncode == 0, f"{name} {params} did not complete:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}\nworker log:\n{stack.logs()}"
    return flow_run_id(done.stdout)


def flow_run_id(output: str) -> str:
    return next(line.split("UUID:")[1].strip() for line in output.splitlines() if "UUID:" in line)


def manifest(stack: Stack, dest_prefix: str, day: str) -> dict:
    body = stack.s3().get_object(Bucket=LAKE, Key=f"{dest_prefix}/_manifests/ingest_date={day}.json")["Body"].read()
    return json.loads(body)


def fetch(stack: Stack, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return stack.s3().get_object(Bucket=bucket, Key=key)["Body"].read()


def partition(stack: Stack, dest_prefix: str, dataset: str, day: str) -> pl.DataFrame:
    """A dataset's file of the partition the manifest commits, without the columns that name the run."""
    frame = pl.read_parquet(io.BytesIO(fetch(stack, manifest(stack, dest_prefix, day)["files"][dataset])))
    return frame.drop("run_id", "ingested_at").sort(frame.columns[:2])


def test_a_deployment_run_publishes_the_partition_and_reports_to_the_server(stack, landed):
    run_id = run_deployment(stack, DAILY, f"date={DAY}")

    published = manifest(stack, "cleanwire", DAY)
    assert published["counts"] == {"inputs": 5, "articles": 4, "duplicates": 1, "quarantine": 0}
    assert published["source"] == f"s3://{LANDING}/scrapes/{DAY}/"
    assert {"articles", "duplicates", "quarantine"} <= set(published["files"])
    for uri in published["files"].values():
        assert fetch(stack, uri)  # every file the manifest lists is there
    flow_run = stack.get(f"/flow_runs/{run_id}")
    assert flow_run["state"]["type"] == "COMPLETED"
    artifacts = stack.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    summary = next(artifact for artifact in artifacts if artifact["key"] == "cleanwire-run-summary")
    assert published["run_id"] in summary["data"] and "| 5 | 4 | 1 | 0 |" in summary["data"]


def scheduled_runs(stack: Stack, deployment_id: str) -> list[dict]:
    """The deployment's runs the scheduler created, earliest first (the API pages by 200)."""
    runs: list[dict] = []
    while page := stack.post(
        "/flow_runs/filter",
        {
            "flow_runs": {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": ["SCHEDULED"]}}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 200,
            "offset": len(runs),
        },
    ):
        runs += page
    return [run for run in runs if run["auto_scheduled"]]


def test_the_scheduler_plans_the_daily_runs_at_2330_london_time_across_daylight_saving_changes(stack):
    deployment = stack.get(f"/deployments/name/{DAILY}")
    london = ZoneInfo("Europe/London")
    deadline = time.monotonic() + 60
    while len(scheduled := scheduled_runs(stack, deployment["id"])) < 370 and time.monotonic() < deadline:
        time.sleep(1)
    # Runs due within the hour may be with the worker already (a test run at 23:30 London time).
    soon = datetime.now(ZoneInfo("UTC")) + timedelta(hours=1)
    scheduled = [run for run in scheduled if datetime.fromisoformat(run["expected_start_time"]) > soon]
    starts = [datetime.fromisoformat(run["expected_start_time"]) for run in scheduled]
    assert len(starts) >= 370, f"the scheduler planned {len(starts)} runs of {DAILY}"
    local = [start.astimezone(london) for start in starts]
    assert {(t.hour, t.minute) for t in local} == {(23, 30)}
    assert all(b.date() - a.date() == timedelta(days=1) for a, b in zip(local, local[1:])), "one run per day"
    # Both offsets occur: 23:30 GMT is 23:30 UTC, 23:30 BST is 22:30 UTC.
    assert {start.astimezone(ZoneInfo("UTC")).strftime("%H:%M") for start in starts} == {"23:30", "22:30"}
    # A scheduled run has no date parameter: it processes its scheduled day in the schedule's zone.
    assert all("date" not in run["parameters"] for run in scheduled)
    assert all(run["parameters"]["overrides"]["ops"]["timezone"] == "Europe/London" for run in scheduled)


def test_two_runs_started_together_run_one_after_the_other_and_both_succeed(stack, landed):
    command = ["prefect", "deployment", "run", DAILY, "--param", f"date={DAY}", "--watch", "--watch-timeout", str(RUN_TIMEOUT_S)]
    started = [subprocess.Popen(command, env=stack.env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [process.communicate(timeout=2 * RUN_TIMEOUT_S) for process in started]
    finally:
        for process in started:
            process.kill()
    for process, (stdout, stderr) in zip(started, outputs):
        assert process.returncode == 0, f"a run did not complete:\n{stdout[-3000:]}\n{stderr[-2000:]}\nworker log:\n{stack.logs()}"

    runs = sorted((stack.get(f"/flow_runs/{flow_run_id(stdout)}") for stdout, _ in outputs), key=lambda run: run["start_time"])
    first_end, second_start = (datetime.fromisoformat(runs[0]["end_time"]), datetime.fromisoformat(runs[1]["start_time"]))
    assert second_start >= first_end, f"the runs overlapped: {[(run['start_time'], run['end_time']) for run in runs]}"
    assert manifest(stack, "cleanwire", DAY)["counts"]["articles"] == 4


def test_the_backfill_deployment_publishes_three_dates_in_order(stack, landed):
    days = sorted(BACKFILL_DAYS)
    run_deployment(stack, BACKFILL, f"start={days[0]}", f"end={days[-1]}", "dest=s3://lake/backfill")

    manifests = [manifest(stack, "backfill", day) for day in days]
    assert [m["counts"]["inputs"] for m in manifests] == [len(BACKFILL_DAYS[day]) for day in days]
    assert manifests[-1]["counts"]["duplicates"] == 1  # the rewrite, against its own date's original
    committed = [datetime.fromisoformat(m["started_at"]) for m in manifests]
    assert committed == sorted(committed), "dates were published out of order"


def test_the_dask_runner_against_the_server_publishes_the_same_partition_as_the_process_worker(stack, landed):
    from distributed import LocalCluster

    worker_env = {name: stack.env[name] for name in ("PREFECT_API_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env=worker_env) as cluster:
        done = stack.run(
            "cleanwire", "run", "--source", f"s3://{LANDING}/scrapes/{{date}}/", "--dest", "s3://lake/dask", "--date", DAY,
            "--runner", "dask", "--dask-address", cluster.scheduler_address,
            # Three read chunks for two workers, none served from the read cache: every chunk is read on a worker.
            "--set", "ops.read_chunk_files=2", "--set", "ops.cache_reads=false",
        )  # fmt: skip
    assert done.returncode == 0, f"cleanwire run --runner dask failed:\n{done.stderr[-3000:]}"

    for dataset in ("articles", "duplicates", "quarantine"):
        assert partition(stack, "dask", dataset, DAY).equals(partition(stack, "cleanwire", dataset, DAY)), dataset
    completed = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 200}
    runs = stack.post("/flow_runs/filter", completed)
    assert any(run["parameters"].get("dest") == "s3://lake/dask" for run in runs), "the dask run is not on the server"
