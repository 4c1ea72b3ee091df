"""Settings: the documented defaults file, environment overrides, clear errors."""

import tomllib

import pytest

from feedsvc.errors import ConfigurationError
from feedsvc.settings import Settings, load_settings
from tests.conftest import ROOT

CONFIG_FILE = ROOT / "config" / "feedsvc.toml"


def test_config_file_documents_every_setting_with_its_default(monkeypatch):
    documented = tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert documented == defaults
    monkeypatch.setenv("FEEDSVC_CONFIG", str(CONFIG_FILE))
    assert load_settings() == Settings(**defaults)


def test_environment_overrides_the_file(monkeypatch, tmp_path):
    config = tmp_path / "feedsvc.toml"
    config.write_text('base_url = "https://tin.example.vn/"\nfeed_items = 20\n', encoding="utf-8")
    monkeypatch.setenv("FEEDSVC_CONFIG", str(config))
    monkeypatch.setenv("FEEDSVC_FEED_ITEMS", "30")
    monkeypatch.setenv("FEEDSVC_ALLOW_PRIVATE_URLS", "true")
    settings = load_settings()
    assert settings.base_url == "https://tin.example.vn"
    assert settings.feed_items == 30
    assert settings.allow_private_urls is True
    assert settings.websub_hub_url == "https://tin.example.vn/hub"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("FEEDSVC_BASE_URL", "tin.example.vn", "base_url"),
        ("FEEDSVC_FEED_ITEMS", "many", "feed_items"),
        ("FEEDSVC_FEED_ITEMS", "0", "feed_items"),
    ],
)
def test_bad_values_are_named(monkeypatch, name, value, problem):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=problem):
        load_settings()


def test_unknown_key_in_file_is_an_error(monkeypatch, tmp_path):
    config = tmp_path / "feedsvc.toml"
    config.write_text("feed_itmes = 20\n", encoding="utf-8")
    monkeypatch.setenv("FEEDSVC_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="feed_itmes"):
        load_settings()


def test_an_unmigrated_database_is_named_as_the_problem(tmp_path):
    from feedsvc.web import create_app

    with pytest.raises(ConfigurationError, match="run `feedsvc db upgrade`"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))


def test_base_url_follows_the_bind_address_unless_set():
    assert load_settings().base_url == "http://127.0.0.1:8000"
    assert load_settings(bind="127.0.0.1:8011").base_url == "http://127.0.0.1:8011"
    assert load_settings(bind="0.0.0.0:8011").base_url == "http://127.0.0.1:8011"
    assert load_settings(bind="[::]:8011").base_url == "http://[::1]:8011"
    explicit = load_settings(bind="0.0.0.0:8011", base_url="https://tin.example.vn/")
    assert explicit.base_url == "https://tin.example.vn"
    assert explicit.websub_hub_url == "https://tin.example.vn/hub"
    with pytest.raises(ConfigurationError, match="set base_url explicitly"):
        load_settings(bind="unix:/run/feedsvc.sock")


def test_log_levels_are_checked_and_case_insensitive():
    settings = load_settings(log_level="debug", log_levels={"feedsvc.ingest": "warning"})
    assert settings.log_level == "DEBUG"
    assert settings.log_levels == {"feedsvc.ingest": "WARNING"}
    with pytest.raises(ConfigurationError, match="log_levels"):
        load_settings(log_levels={"feedsvc.ingest": "LOUD"})
    with pytest.raises(ConfigurationError, match="log_format"):
        load_settings(log_format="xml")
