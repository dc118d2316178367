"""The released package, as a new user gets it: `python -m build` on a clean copy of the project, the
wheel installed (not editable) into a fresh virtualenv with the lock, `cleanwire run` on the seeds
from a folder outside the project. Slow (a fresh venv installs every dependency, from pip's cache
when warm): marked `wheel`, deselect with `-m "not wheel"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SEEDS

pytestmark = pytest.mark.wheel

PACKAGES = ("flows", "tasks", "expectations")


def project_files() -> list[str]:
    """What a fresh clone holds: tracked files and new ones not ignored (the working tree's versions)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    )  # fmt: skip
    return [name for name in listed.stdout.decode().split("\0") if name and (REPO_ROOT / name).is_file()]


def package_files(names: list[str]) -> set[str]:
    """The files the import packages consist of: their modules and their data (JSON)."""
    return {name for name in names if name.split("/", 1)[0] in PACKAGES and name.endswith((".py", ".json"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    checkout, dist = tmp_path_factory.mktemp("checkout"), tmp_path_factory.mktemp("dist")
    for name in project_files():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, checkout / name)
    # sdist first, then the wheel from the sdist: what `python -m build` does for a release.
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(checkout)], check=True, capture_output=True)
    [built] = dist.glob("cleanwire-*.whl")
    return built


def test_the_wheel_holds_every_module_and_data_file_of_the_packages(wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    expected = package_files(project_files())
    assert {"expectations/records.json", "expectations/batch.json"} <= expected
    assert expected - in_wheel == set()


def test_the_installed_wheel_runs_the_seeds_outside_the_project(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "-c", str(REPO_ROOT / "constraints.txt"), str(wheel)], check=True, capture_output=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CLEANWIRE_", "AWS_", "VIRTUAL_ENV"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "CLEANWIRE_OPS__CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import expectations, flows, tasks; print(tasks.__file__, expectations.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert all(path.startswith(str(venv)) for path in where.stdout.split()), where.stdout

    # A fresh venv and PREFECT_HOME: the temporary server's first start (it creates its database) took
    # over the default 120 s with benchmarks running beside the suite; this test is about packaging.
    run = subprocess.run(
        [str(venv / "bin" / "cleanwire"), "run", "--source", str(SEEDS), "--dest", str(tmp_path / "data"), "--date", "2025-08-24",
         "--set", "ops.embedded_server_start_s=420"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "5 inputs -> 4 articles, 1 duplicates, 0 quarantined" in run.stdout + run.stderr
