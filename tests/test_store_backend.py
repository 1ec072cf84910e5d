"""STORE_BACKEND: which store `open_store` builds, and the settings each backend needs.

The backend is named, never inferred: `sqlite` by default (`make run`), `supabase` with its URL and
key. A missing setting, a Supabase setting left for another store, or an unknown name stops the
service at start with one message naming the variables.
"""

from __future__ import annotations

import pytest

import config
from config import Settings
from database import BACKENDS, open_store
from exceptions import ConfigError
from store_sqlite import SQLiteStore
from store_supabase import SupabaseStore

from conftest import make_settings

SUPABASE = {"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_KEY": "sb_secret_0123456789abcdefghij"}


@pytest.mark.parametrize("env", [{}, {"STORE_BACKEND": "sqlite"}, {"STORE_BACKEND": " SQLite "}])
def test_sqlite_is_the_default_and_can_be_named(tmp_path, env):
    settings = make_settings(tmp_path, **env)
    assert settings.store_backend == "sqlite"
    store = open_store(settings)
    try:
        assert isinstance(store, SQLiteStore) and store.path == settings.sqlite_path
        store.ping()
        assert (tmp_path / "store.db").is_file()  # the file SQLITE_PATH names
    finally:
        store.close()


def test_supabase_with_its_settings(tmp_path):
    settings = make_settings(tmp_path, STORE_BACKEND="supabase", **SUPABASE)
    assert settings.store_backend == "supabase"
    store = open_store(settings)
    try:
        assert isinstance(store, SupabaseStore) and "https://abc.supabase.co" in repr(store)
        assert SUPABASE["SUPABASE_SERVICE_KEY"] not in repr(store)
    finally:
        store.close()
    assert not (tmp_path / "store.db").exists()  # no SQLite file on the side


@pytest.mark.parametrize(
    "missing, named",
    [
        (("SUPABASE_URL",), "SUPABASE_URL"),
        (("SUPABASE_SERVICE_KEY",), "SUPABASE_SERVICE_KEY"),
        (("SUPABASE_URL", "SUPABASE_SERVICE_KEY"), "SUPABASE_URL and SUPABASE_SERVICE_KEY"),
    ],
)
def test_supabase_without_its_settings_is_refused(tmp_path, missing, named):
    env = {name: value for name, value in SUPABASE.items() if name not in missing}
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, STORE_BACKEND="supabase", **env)
    assert f"STORE_BACKEND=supabase needs {named} (" in info.value.message
    assert SUPABASE["SUPABASE_SERVICE_KEY"] not in info.value.message


@pytest.mark.parametrize("env", [{}, {"STORE_BACKEND": "sqlite"}])
def test_supabase_settings_without_supabase_are_refused(tmp_path, env):
    """A deployment from before STORE_BACKEND (the store was chosen by SUPABASE_URL) stops at start
    with the fix, rather than silently writing to a SQLite file nobody else reads."""
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, **env, **SUPABASE)
    assert "set STORE_BACKEND=supabase" in info.value.message
    assert SUPABASE["SUPABASE_SERVICE_KEY"] not in info.value.message
    with pytest.raises(ConfigError, match="set STORE_BACKEND=supabase"):
        make_settings(tmp_path, **env, SUPABASE_URL=SUPABASE["SUPABASE_URL"])


def test_an_unknown_store_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, STORE_BACKEND="postgres")
    assert "STORE_BACKEND='postgres' must be one of sqlite, supabase" in info.value.message


def test_open_store_refuses_an_unknown_store_built_in_code(tmp_path):
    settings = Settings(sqlite_path=str(tmp_path / "store.db")).with_overrides(store_backend="mongodb")
    with pytest.raises(ConfigError, match="STORE_BACKEND='mongodb' must be one of sqlite, supabase"):
        open_store(settings)
    assert not (tmp_path / "store.db").exists()


def test_the_settings_and_open_store_know_the_same_stores():
    assert config.STORE_BACKENDS == tuple(BACKENDS)
