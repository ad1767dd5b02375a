"""Settings: defaults, files laid over them, the environment on top, and clear errors."""
from __future__ import annotations

import pytest

from config.settings import SAMPLE_PROCESSES, SettingsError, load_settings


def test_defaults_run_on_embedded_sqlite_and_the_samples():
    settings = load_settings({})
    assert settings.storage.url == "sqlite:///process-engine.db"
    assert settings.repository.root == SAMPLE_PROCESSES
    assert settings.server.base_url == "http://127.0.0.1:8080"
    assert settings.engine.node_id  # generated when not configured


def test_a_file_overrides_and_the_environment_overrides_the_file(tmp_path):
    file = tmp_path / "pe.toml"
    file.write_text('[server]\nport = 9000\nthreads = 4\nkeepalive_s = 30\n[engine.thread_pools]\ndefault = 2\n'
                    'batch = 1\n[constants]\nregion = "eu"\n')
    settings = load_settings({"PE_PORT": "9100", "PE_STORAGE_URL": "sqlite:///x.db", "PE_THREADS": "12",
                              "PE_KEEPALIVE": "75"}, [file])
    assert settings.server.port == 9100 and settings.storage.url == "sqlite:///x.db"
    assert settings.server.threads == 12 and settings.server.keepalive_s == 75
    assert load_settings({}, [file]).server.keepalive_s == 30 and load_settings({}).server.keepalive_s == 5
    assert settings.engine.thread_pools == {"default": 2, "batch": 1}
    assert settings.constants == {"region": "eu"}


def test_config_file_from_the_environment(tmp_path):
    file = tmp_path / "pe.toml"
    file.write_text('[query]\nmax_limit = 5\n')
    assert load_settings({"PROCESS_ENGINE_CONFIG": str(file)}).query.max_limit == 5


@pytest.mark.parametrize("text, message", [
    ("[server]\nport = 'eighty'\n", "port"),
    ("[server]\ncolour = 1\n", "colour"),
    ("[engine.thread_pools]\nbatch = 0\n", "at least one thread"),
    ("[server]\nthreads = 0\n", "at least one request thread"),
    ("[server]\nkeepalive_s = -1\n", "keepalive_s"),
    ("not toml = = 1", "pe.toml"),
])
def test_bad_settings_name_the_problem(tmp_path, text, message):
    file = tmp_path / "pe.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings({}, [file])


def test_bad_environment_value():
    with pytest.raises(SettingsError, match="PE_PORT"):
        load_settings({"PE_PORT": "http"})


def test_missing_file():
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({}, ["/nonexistent/pe.toml"])


def test_the_settings_fill_in_everything_the_engine_reads():
    """engine.settings states what an engine is built from, section by section; the settings config
    loads must hold every attribute of it, of the type it names: the engine's own sections as its
    dataclasses, config's sections with what the engine reads of them."""
    import dataclasses
    import typing

    from engine import settings as engine_settings

    def check(value: object, protocol: type, path: str) -> None:
        for name, wanted in typing.get_type_hints(protocol).items():
            assert hasattr(value, name), f"{path}.{name}"
            found = getattr(value, name)
            if getattr(wanted, "_is_protocol", False):
                check(found, wanted, f"{path}.{name}")
            elif wanted in (str, int, bool) or dataclasses.is_dataclass(wanted):
                assert isinstance(found, wanted), (f"{path}.{name}", found)
        for name, member in vars(protocol).items():
            if isinstance(member, property):
                assert getattr(value, name) is not None, f"{path}.{name}"

    check(load_settings({}), engine_settings.EngineSettings, "settings")
