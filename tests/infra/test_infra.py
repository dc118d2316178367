"""The deployment files agree with the code: compose services and environment, prefect.yaml's deployments."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect import Flow

from flows.serve import DAILY_CRON, DAILY_DEPLOYMENT, DAILY_TAGS
from tasks.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "infra" / "docker-compose.yml").read_text())
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text())
ENV_EXAMPLE = ROOT / "infra" / "env.example"
# What the pipeline reads from the environment besides its own CLEANWIRE_* settings.
PIPELINE_ENV = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PREFECT_API_URL"}


def env_file_names(path: Path) -> set[str]:
    """Names assigned in an env file, commented-out examples included."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(), flags=re.MULTILINE))


def service_env(name: str) -> set[str]:
    service = COMPOSE["services"][name]
    names = set(service.get("environment") or {})
    if service.get("env_file"):
        names |= env_file_names(ENV_EXAMPLE)
    return names


def is_setting(env_name: str) -> bool:
    """CLEANWIRE_SECTION__FIELD names a field of Settings (what pydantic-settings would read)."""
    section, _, field = env_name.removeprefix("CLEANWIRE_").lower().partition("__")
    model = Settings.model_fields.get(section)
    return model is not None and field in model.annotation.model_fields


def deployment(name: str) -> dict:
    return next(d for d in PREFECT_YAML["deployments"] if d["name"] == name)


def load_entrypoint(entrypoint: str) -> Flow:
    """The flow a worker would load for this entrypoint (a module path into the installed package)."""
    from prefect.flows import load_flow_from_entrypoint

    assert ":" not in entrypoint, "a module path (package.module.flow), not a file of the source tree"
    return load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)


# --- docker compose --------------------------------------------------------------------------------


def test_compose_runs_minio_a_postgres_backed_prefect_server_and_a_project_worker():
    services = COMPOSE["services"]
    assert {"minio", "minio-init", "postgres", "prefect-server", "deploy", "worker"} <= set(services)
    assert "4200:4200" in services["prefect-server"]["ports"]
    assert "9000:9000" in services["minio"]["ports"]
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert services["worker"]["image"] == services["deploy"]["image"]
    assert services["deploy"]["build"]["dockerfile"] == "infra/Dockerfile"
    assert (ROOT / "infra" / services["deploy"]["build"]["context"] / "infra" / "Dockerfile").is_file()


def test_worker_image_installs_the_wheel_with_the_locked_versions():
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    assert "python -m build --wheel" in dockerfile
    assert "pip install -c constraints.txt -r requirements.txt" in dockerfile
    assert "pip install --no-deps /dist/cleanwire-*.whl" in dockerfile
    assert " -e " not in dockerfile, "the worker runs the installed package, not an editable checkout"
    # Every import package of the wheel is copied into the build stage.
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {f"COPY {name} {name}" for name in found if "*" not in name} <= set(dockerfile.splitlines())


def test_compose_volumes_are_declared():
    declared = set(COMPOSE["volumes"])
    used = {
        mount.split(":")[0]
        for service in COMPOSE["services"].values()
        for mount in service.get("volumes", [])
        if not mount.startswith((".", "/"))
    }
    assert used and used <= declared


def test_the_worker_has_every_variable_the_pipeline_reads():
    assert PIPELINE_ENV <= service_env("worker")
    assert COMPOSE["services"]["worker"]["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert COMPOSE["services"]["worker"]["environment"]["PREFECT_API_URL"].startswith("http://prefect-server:4200/")


def test_every_cleanwire_variable_is_a_setting():
    names = {n for service in COMPOSE["services"] for n in service_env(service) if n.startswith("CLEANWIRE_")}
    assert names, "the stack sets no CLEANWIRE_* variable"
    assert [n for n in sorted(names) if not is_setting(n)] == []
    assert not is_setting("CLEANWIRE_OPS__NO_SUCH_FIELD")


def test_credentials_come_from_an_ignored_env_file_and_the_example_names_them_all():
    for name in ("postgres", "minio", "minio-init", "worker"):
        assert COMPOSE["services"][name]["env_file"] == ".env"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "POSTGRES_PASSWORD"} <= (
        env_file_names(ENV_EXAMPLE)
    )
    assert "infra/.env" in (ROOT / ".gitignore").read_text().splitlines()
    compose_text = (ROOT / "infra" / "docker-compose.yml").read_text()
    assert "change-me" not in compose_text and "SECRET_ACCESS_KEY:" not in compose_text


def test_minio_init_creates_the_buckets_the_deployments_use():
    created = set(re.findall(r"local/([a-z0-9.-]+)", COMPOSE["services"]["minio-init"]["entrypoint"]))
    for entry in PREFECT_YAML["deployments"]:
        for uri in (entry["parameters"]["source"], entry["parameters"]["dest"]):
            assert uri.removeprefix("s3://").split("/")[0] in created, uri


def test_the_worker_serves_the_deployments_work_pool():
    pools = {entry["work_pool"]["name"] for entry in PREFECT_YAML["deployments"]}
    assert pools == {"cleanwire-process"}
    assert "--pool cleanwire-process" in COMPOSE["services"]["worker"]["command"]
    assert "work-pool create cleanwire-process --type process" in COMPOSE["services"]["deploy"]["command"]


# --- prefect.yaml ----------------------------------------------------------------------------------


def test_prefect_yaml_schedules_the_daily_deployment_in_a_time_zone():
    daily = deployment(DAILY_DEPLOYMENT)
    (schedule,) = daily["schedules"]
    assert schedule["cron"] == DAILY_CRON  # what `cleanwire serve` schedules
    ZoneInfo(schedule["timezone"])
    # The run's default date is computed in the same zone the schedule fires in.
    assert daily["parameters"]["overrides"]["ops"]["timezone"] == schedule["timezone"]
    assert f"CLEANWIRE_OPS__TIMEZONE={schedule['timezone']}" in ENV_EXAMPLE.read_text()
    assert "{date}" in daily["parameters"]["source"]
    assert daily["concurrency_limit"]["limit"] == 1
    assert daily["tags"] == DAILY_TAGS


@pytest.mark.parametrize("name", ["cleanwire-daily", "cleanwire-backfill"])
def test_prefect_yaml_entrypoints_resolve_to_flows_taking_their_parameters(name):
    entry = deployment(name)
    flow = load_entrypoint(entry["entrypoint"])
    assert isinstance(flow, Flow)
    assert flow.name == name
    accepted = inspect.signature(flow.fn).parameters
    assert set(entry["parameters"]) <= set(accepted)
    Settings(**entry["parameters"].get("overrides", {}))  # valid overrides


def test_serve_declares_the_same_parameters_as_the_yaml_deployment():
    from flows.serve import daily_parameters

    daily = deployment(DAILY_DEPLOYMENT)
    timezone = daily["schedules"][0]["timezone"]
    served = daily_parameters(daily["parameters"]["source"], daily["parameters"]["dest"], timezone, {})
    assert served == daily["parameters"]
    with_override = daily_parameters("src/{date}", "dest", timezone, {"ops": {"read_chunk_files": 8}})
    assert with_override["overrides"]["ops"] == {"read_chunk_files": 8, "timezone": timezone}


# --- infra/local-stack.sh and docs/operations.md -------------------------------------------------


def test_operations_doc_prints_the_commands_local_stack_runs():
    """One source: the operator commands docs/operations.md shows are lines of the script the deploy test runs."""
    doc = (ROOT / "docs" / "operations.md").read_text()
    script = (ROOT / "infra" / "local-stack.sh").read_text()
    intro = "`up` runs exactly the operator commands above:"
    block = doc.split(intro, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.strip().splitlines()
    assert commands == [
        "prefect work-pool create cleanwire-process --type process --overwrite",
        "prefect --no-prompt deploy --all",
        "prefect worker start --pool cleanwire-process",
    ]
    for command in commands:
        assert command in script, command
    # The compose stack's deploy service runs the same two registration commands.
    assert " && ".join(commands[:2]) in COMPOSE["services"]["deploy"]["command"]
