"""compose.yaml and the Dockerfile, checked as far as this machine allows (no Docker daemon):
the Compose specification's JSON schema, what the schema cannot know (every command is one of
ours, every FEEDSVC_* variable is a setting or the entrypoint's), and hadolint."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from feedsvc.cli import main
from feedsvc.settings import Settings, load_settings
from tests.conftest import ROOT
from tests.test_processes import dockerfile_instruction

SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DOCKERFILE = ROOT / "Dockerfile"
# Read by the image and its entrypoint, not by the settings.
ENTRYPOINT_VARIABLES = {"FEEDSVC_CONFIG", "FEEDSVC_SKIP_MIGRATIONS", "FEEDSVC_ADMIN_PASSWORD_FILE"}
OUR_IMAGE = "feedsvc:latest"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s["image"] == OUR_IMAGE}


def check_command(args: list[str]) -> None:
    """Fail unless ``args`` is a command the image runs: a `feedsvc` command line that click
    accepts, or gunicorn with the config file and app factory the image holds."""
    if args[0] == "gunicorn":
        assert args[1:3] == ["--config", "/app/config/gunicorn.conf.py"], args
        assert (ROOT / "config" / "gunicorn.conf.py").is_file()
        assert args[3:] == ["feedsvc.web:create_app()"], args
        return
    assert args[0] == "feedsvc", args
    command: click.Command = main
    rest = args[1:]
    while isinstance(command, click.Group):
        name, *rest = rest
        assert name in command.commands, f"no `{' '.join(args)}` in our CLI"
        command = command.commands[name]
    command.make_context(args[0], list(rest))  # raises click.UsageError on a bad option


def test_compose_file_follows_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    assert errors == []


def test_the_schema_check_catches_mistakes(compose):
    """The validator is really at work: a misspelt key and a wrong type are refused."""
    schema = json.loads(SCHEMA.read_text())
    for broken in (
        {**compose, "services": {**compose["services"], "db": {"imagee": "postgres"}}},
        {**compose, "services": {"web": {**compose["services"]["web"], "ports": "8000"}}},
    ):
        assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_postgresql_two_web_two_workers_migrated_once(compose):
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["web"]["command"][0] == "gunicorn"  # web only: the scheduler is the workers'
    assert services["worker"]["command"] == ["feedsvc", "worker"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "FEEDSVC_SKIP_MIGRATIONS" not in services["migrate"]["environment"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
        assert services[name]["environment"]["FEEDSVC_SKIP_MIGRATIONS"] == "1"
    for name in ("db", "web", "worker"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_every_web_and_worker_container_shares_the_media_volume(compose):
    """An upload lands in one web container and is served by any: one named volume at the
    image's FEEDSVC_MEDIA_DIR."""
    media_dir = next(
        line.split("=", 1)[1].strip(" \\")
        for line in DOCKERFILE.read_text().splitlines()
        if "FEEDSVC_MEDIA_DIR=" in line
    )
    assert "media" in compose["volumes"]
    for name in ("web", "worker"):
        assert f"media:{media_dir}" in compose["services"][name]["volumes"], name


def test_every_command_of_ours_exists_and_parses(compose):
    for name, service in ours(compose).items():
        check_command(service["command"])
        test = service["healthcheck"].get("test")
        if test:
            check_command(test[1:])
        else:
            assert name == "migrate"  # runs once; nothing to check while it lives
    assert dockerfile_instruction("CMD") == ["feedsvc", "serve"]  # one container stands alone
    check_command(dockerfile_instruction("CMD"))
    check_command(dockerfile_instruction("HEALTHCHECK"))


def test_the_admin_password_is_a_secret_the_migrate_service_reads(compose):
    migrate = compose["services"]["migrate"]
    (secret,) = migrate["secrets"]
    assert secret in compose["secrets"]
    command = migrate["command"]
    assert command[command.index("--password-file") + 1] == f"/run/secrets/{secret}"
    environments = [s.get("environment", {}) for s in compose["services"].values()]
    assert not any("PASSWORD" in name for env in environments for name in env)


def test_every_feedsvc_variable_is_a_setting_with_a_valid_value(compose, monkeypatch):
    fields = {f"FEEDSVC_{name.upper()}" for name in Settings.model_fields}
    used_by_entrypoint = ENTRYPOINT.read_text() + DOCKERFILE.read_text()
    assert all(name in used_by_entrypoint for name in ENTRYPOINT_VARIABLES)
    for service in ours(compose).values():
        environment = service["environment"]
        for name in environment:
            assert name in fields | ENTRYPOINT_VARIABLES, f"{name} is no setting"
        with monkeypatch.context() as env:
            for name, value in environment.items():
                if name in fields:
                    env.setenv(name, value)
            load_settings()  # raises ConfigurationError on a bad value


def test_dockerfile_has_no_hadolint_warnings():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
