"""The pipeline version and the read cache's code digest cover every file of the packages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tasks.config import Settings
from tasks.versions import PACKAGES, code_digest, pipeline_version, tree_digest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def packages_copy(tmp_path) -> dict[str, Path]:
    copies = {}
    for package in PACKAGES:
        copies[package] = tmp_path / package
        shutil.copytree(REPO / package, copies[package], ignore=shutil.ignore_patterns("__pycache__"))
    return copies


def test_a_changed_byte_in_any_file_of_the_packages_changes_the_digest(packages_copy):
    baseline = tree_digest(packages_copy)
    files = [path for root in packages_copy.values() for path in root.rglob("*") if path.is_file()]
    assert any(path.name == "kernels.py" and path.parent.name == "dedup" for path in files)  # subpackages too
    assert len(files) >= 15
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]) if original else b"x")
        assert tree_digest(packages_copy) != baseline, path
        path.write_bytes(original)
    assert tree_digest(packages_copy) == baseline


def test_a_new_data_file_or_module_changes_the_digest_but_bytecode_does_not(packages_copy):
    baseline = tree_digest(packages_copy)
    cache = packages_copy["tasks"] / "__pycache__"
    cache.mkdir()
    (cache / "clean.cpython-311.pyc").write_bytes(b"\0compiled")
    assert tree_digest(packages_copy) == baseline
    (packages_copy["tasks"] / "lexicon.json").write_text("[]")
    assert tree_digest(packages_copy) != baseline


def test_the_installed_packages_are_what_is_digested():
    assert code_digest() == tree_digest({package: REPO / package for package in PACKAGES})


def test_pipeline_version_covers_the_suites(tmp_path):
    settings = Settings()
    suites = tmp_path / "expectations"
    shutil.copytree(settings.validation.expectations_dir, suites)
    moved = Settings(validation={"expectations_dir": suites})
    assert pipeline_version(moved) == pipeline_version(settings)  # where the suites are does not matter
    (suites / "records.json").write_text((suites / "records.json").read_text() + " ")
    assert pipeline_version(moved) != pipeline_version(settings)
