"""The settings object: defaults, every bad value reported at once, .env and the environment."""

import pytest

import defaults
from config import Settings, setting_names
from conftest import CALLBACK_SECRET, ROOT
from exceptions import ConfigError

GOOD = {
    "APP_ENV": "production",
    "WORKER_SECRET": "0123456789abcdef0123",
    "CALLBACK_SECRET": CALLBACK_SECRET,
    "CALLBACK_ALLOWED_HOSTS": "abc.supabase.co",
    "SEC_USER_AGENT": "Acme Research ops@acme.com",
}


def test_production_settings_with_defaults():
    s = Settings.from_env(GOOD)
    assert s.max_concurrent_jobs == defaults.MAX_CONCURRENT_JOBS and s.job_timeout_seconds == 300
    assert s.sec_max_requests_per_second == 8 and s.anthropic_model == "claude-sonnet-5-5"
    assert s.store_backend == "sqlite" and s.callback_allowed_hosts == ("abc.supabase.co",)
    assert GOOD["WORKER_SECRET"] not in repr(s)  # secrets stay out of reprs and logs


def test_every_problem_is_reported_at_once():
    env = {**GOOD, "WEB_CONCURRENCY": "many", "MAX_CONCURRENT_JOBS": "0", "SEC_MAX_REQUESTS_PER_SECOND": "12", "QUEUE_BACKEND": "celery",
           "SEC_USER_AGENT": "no contact", "CALLBACK_SECRET": "plain", "SUPABASE_URL": "https://x.supabase.co"}
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = info.value.message
    for name in ("WEB_CONCURRENCY", "MAX_CONCURRENT_JOBS", "SEC_MAX_REQUESTS_PER_SECOND", "QUEUE_BACKEND", "SEC_USER_AGENT",
                 "CALLBACK_SECRET", "SUPABASE_SERVICE_KEY"):
        assert name in message, name


def test_sec_rate_can_never_exceed_ten():
    with pytest.raises(ConfigError):
        Settings.from_env({**GOOD, "SEC_MAX_REQUESTS_PER_SECOND": "10.5"})
    assert Settings.from_env({**GOOD, "SEC_MAX_REQUESTS_PER_SECOND": "10"}).sec_max_requests_per_second == 10


@pytest.mark.parametrize("name", ["SEC_MAX_REQUESTS_PER_SECOND", "JOB_TIMEOUT_SECONDS", "HEARTBEAT_INTERVAL_SECONDS", "GRACEFUL_TIMEOUT_SECONDS"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_numbers_must_be_finite(name, value):
    """Found in review: "nan" passed every bound (comparisons with NaN are false), so an SEC rate of
    nan meant no spacing at all and a job timeout of nan meant none."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**GOOD, name: value})


def test_rq_needs_redis():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({**GOOD, "QUEUE_BACKEND": "rq"})
    # workers share the store
    supabase = {"STORE_BACKEND": "supabase", "SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_KEY": "sb_secret_xyz"}
    assert Settings.from_env({**GOOD, **supabase, "QUEUE_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/0"}).queue_backend == "rq"


def test_supabase_selected_when_configured():
    s = Settings.from_env({**GOOD, "STORE_BACKEND": "supabase", "SUPABASE_URL": "https://abc.supabase.co",
                           "SUPABASE_SERVICE_KEY": "sb_secret_xyz"})
    assert s.store_backend == "supabase" and "sb_secret_xyz" in s.secrets


def test_dotenv_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("APP_ENV=development\nMAX_QUEUED_JOBS=7\nJOB_TIMEOUT_SECONDS=99\n")
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "42")
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("MAX_QUEUED_JOBS", raising=False)
    s = Settings.from_env(dotenv_path=str(dotenv))
    assert s.app_env == "development" and s.max_queued_jobs == 7 and s.job_timeout_seconds == 42


def test_gunicorn_binds_the_port_of_dotenv_too(tmp_path, monkeypatch):
    """Found in review: gunicorn.conf.py read PORT from the process environment only, so a PORT in
    .env (listed in .env.example) was ignored and the server listened on 127.0.0.1:8000."""
    import runpy

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    (tmp_path / ".env").write_text("APP_ENV=development\nPORT=18799\n")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:18799"
    (tmp_path / ".env").write_text("APP_ENV=development\n")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "127.0.0.1:8000"


def test_fallbacks_apply_only_when_unset():
    assert Settings.from_env({}, fallbacks={"APP_ENV": "development"}).app_env == "development"
    assert Settings.from_env(dict(GOOD), fallbacks={"APP_ENV": "development"}).app_env == "production"


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in setting_names() + ["EDGAR_CORPUS_DIR", "PORT", "WEB_CONCURRENCY"]:
        assert name in readme, f"{name} missing from README.md"
        assert name in example, f"{name} missing from .env.example"


def test_env_example_gives_a_working_development_setup():
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}
    settings = Settings.from_env(values)
    assert settings.app_env == "development" and settings.store_backend == "sqlite"


def test_test_environment_is_held_to_production_rules():
    """APP_ENV=test (a staging deploy) must not run open: only development may skip the secrets."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"APP_ENV": "test"})
    for name in ("WORKER_SECRET", "CALLBACK_SECRET", "CALLBACK_ALLOWED_HOSTS", "SEC_USER_AGENT"):
        assert name in info.value.message
    assert Settings.from_env({"APP_ENV": "development"}).worker_secret is None
