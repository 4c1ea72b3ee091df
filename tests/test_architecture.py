"""The dependency rule (docs/architecture.md), kept by import-linter contracts in pyproject.toml.

The contracts are checked on the package as it is, and shown to bite: each forbidden import
below is planted in a copy of the package, and the linter must then fail, naming the contract.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the project at ``project``, analysing that copy's ``feedsvc``."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def contract_named(start: str) -> str:
    (name,) = [c["name"] for c in CONTRACTS if c["name"].startswith(start)]
    return name


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of pyproject.toml and the package's Python source (no templates or assets)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(
        ROOT / "feedsvc",
        project / "feedsvc",
        ignore=shutil.ignore_patterns(
            "__pycache__", "static", "templates", "translations", "images"
        ),
    )
    return project


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(pristine, project)
    return project


def test_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_the_unmodified_copy_passes(copy):
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


PLANTED = [
    # (module of the copy, the line planted in it, the start of the contract it breaks)
    ("ingest/parse.py", "import flask", "Flask, werkzeug"),
    ("notify/deliver.py", "import feedparser", "feedparser only"),
    ("notify/channels/email.py", "import feedgen", "feedgen only"),
    ("overview.py", "import click", "click only"),
    ("accounts.py", "import apscheduler", "APScheduler only"),
    ("ingest/store.py", "import argon2", "argon2 only"),
    ("articles.py", "import httpx", "httpx only"),
    ("cli.py", "import gunicorn", "gunicorn only"),
    ("media.py", "import PIL", "Pillow only"),
    ("articles.py", "import feedsvc.web", "edges -> services -> store"),
    ("feeds/cache.py", "import feedsvc.ingest.parse", "ingest, feeds and notify"),
    ("notify/rows.py", "import feedsvc.ingest.fetch", "ingest, feeds and notify"),
]


@pytest.mark.parametrize(("module", "line", "contract"), PLANTED)
def test_a_planted_import_breaks_its_contract(copy, module, line, contract):
    path = copy / "feedsvc" / module
    path.write_text(f"{line}  # noqa\n{path.read_text(encoding='utf-8')}", encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract_named(contract)} BROKEN" in result.stdout


def test_a_new_module_without_a_layer_breaks_the_layers(copy):
    (copy / "feedsvc" / "newcomer.py").write_text('"""Not yet in a layer."""\n', encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "edges -> services -> store BROKEN" in result.stdout
    assert "- feedsvc.newcomer" in result.stdout
