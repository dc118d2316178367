"""Settings reject unknown names from every source, and every example the docs give exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from flows.backfill import backfill_flow
from flows.cli import parse_overrides
from flows.daily import daily_flow
from tasks.config import Settings, load_settings
from tasks.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
SECTIONS = "|".join(Settings.model_fields)
DOCUMENTS = [REPO / "README.md", REPO / "prefect.yaml", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "infra").iterdir())]
CODE = sorted(p for package in ("tasks", "flows", "bench") for p in (REPO / package).rglob("*.py"))


def mentions(pattern: str, paths: list[Path]) -> set[tuple]:
    found = set()
    for path in paths:
        if path.is_file():
            found |= {match.groups() for match in re.finditer(pattern, path.read_text(errors="replace"))}
    return found


def test_unknown_names_are_refused_with_the_valid_ones(monkeypatch):
    with pytest.raises(UsageError, match="unknown setting 'dedup.threshold'; valid section 'dedup': .*near_copy_threshold"):
        load_settings({"dedup": {"threshold": 0.4}})
    with pytest.raises(UsageError, match="unknown setting 'dedupe'; valid sections: clean, dedup"):
        load_settings({"dedupe": {}})
    monkeypatch.setenv("CLEANWIRE_PUBLISH__KEEP_DAYS", "3")
    with pytest.raises(UsageError, match="unknown setting 'publish.keep_days'.*reports_keep_days"):
        load_settings()
    monkeypatch.delenv("CLEANWIRE_PUBLISH__KEEP_DAYS")
    monkeypatch.setenv("CLEANWIRE_TIMEZONE", "UTC")
    with pytest.raises(UsageError, match="CLEANWIRE_TIMEZONE names no settings section"):
        load_settings()


def test_a_bad_value_names_the_setting():
    with pytest.raises(UsageError, match="publish.min_rerun_ratio: Input should be less than or equal to 1"):
        load_settings({"publish": {"min_rerun_ratio": 2}})


def test_every_environment_variable_the_docs_and_code_name_exists(monkeypatch):
    names = mentions(r"\b(CLEANWIRE_[A-Z0-9_]+)(?:=([^\s`|)]+))?", DOCUMENTS + CODE)
    generic = {"CLEANWIRE_", "CLEANWIRE_SECTION__FIELD"}
    examples = {(name, value) for name, value in names if name not in generic}
    assert len(examples) >= 5
    for name, value in examples:
        monkeypatch.setenv(name, (value or "").strip("'") or "1" if "CACHE_DIR" not in name else "/tmp")  # the shell's quotes
        try:
            section, _, field = name.removeprefix("CLEANWIRE_").lower().partition("__")
            assert field in Settings.model_fields[section].annotation.model_fields, name
            if value:
                load_settings()
        finally:
            monkeypatch.delenv(name)


def test_every_set_example_and_setting_the_docs_name_exists():
    sets = mentions(r"--set[ =]([a-z0-9_]+)\.([a-z0-9_]+)=([^\s`|)\"]+)", DOCUMENTS + CODE)
    assert sets
    for section, field, value in sets:
        load_settings(parse_overrides([f"{section}.{field}={value}"]))
    named = mentions(rf"`({SECTIONS})\.([a-z0-9_]+)", DOCUMENTS)
    assert len(named) >= 10
    for section, field in named:
        assert field in Settings.model_fields[section].annotation.model_fields, f"{section}.{field}"


def test_the_deployments_parameters_exist_and_their_overrides_load():
    flows = {"flows.daily.daily_flow": daily_flow, "flows.backfill.backfill_flow": backfill_flow}  # module entrypoints
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    for deployment in deployments:
        flow = flows[deployment["entrypoint"]]
        parameters = deployment.get("parameters", {})
        assert set(parameters) <= set(flow.parameters.properties), deployment["name"]
        load_settings(parameters.get("overrides"))
