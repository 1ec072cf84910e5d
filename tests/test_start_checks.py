"""Configuration that cannot start wrong (issue 16, item 4), each found by trying it as a newcomer would.

- QUEUE_BACKEND=rq with the SQLite store started, and its jobs stayed `queued` forever;
- `make run` forced APP_ENV=development over `APP_ENV=production` in .env: a server without auth;
- a Python older than 3.11 failed somewhere in pip; a .venv of another Python was reused;
- development without CALLBACK_SECRET sent unsigned callbacks without a word;
- a malformed Supabase URL or key started, and every job then failed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from app import create_app, services_of
from config import Settings
from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, require, wait_for
from exceptions import ConfigError

PRODUCTION = {
    "APP_ENV": "production",
    "WORKER_SECRET": WORKER_SECRET,
    "CALLBACK_SECRET": CALLBACK_SECRET,
    "CALLBACK_ALLOWED_HOSTS": "abc.supabase.co",
    "SEC_USER_AGENT": USER_AGENT,
}
SUPABASE = {"STORE_BACKEND": "supabase", "SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_KEY": "sb_secret_0123456789abcdefghij"}


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


# -- QUEUE_BACKEND=rq needs a store the RQ workers share -----------------------------------------------


@pytest.mark.parametrize("app_env", ["production", "test"])
def test_rq_with_the_sqlite_store_is_refused(app_env):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**PRODUCTION, "APP_ENV": app_env, "QUEUE_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert "QUEUE_BACKEND=rq needs the Supabase store" in info.value.message
    rq = Settings.from_env({**PRODUCTION, **SUPABASE, "APP_ENV": app_env, "QUEUE_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert rq.queue_backend == "rq" and rq.store_backend == "supabase"


def test_rq_with_sqlite_in_development_starts_with_a_warning():
    settings = Settings.from_env({"APP_ENV": "development", "QUEUE_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert any("QUEUE_BACKEND=rq with the SQLite store" in w for w in settings.warnings())


def test_render_blueprint_starts_with_its_own_defaults():
    """render.yaml selects RQ: the settings it fixes must be valid once its secrets are filled in."""
    import yaml

    web = next(s for s in yaml.safe_load((ROOT / "render.yaml").read_text())["services"] if s["type"] == "web")
    fixed = {e["key"]: str(e["value"]) for e in web["envVars"] if "value" in e}
    secrets = {**PRODUCTION, **SUPABASE, "REDIS_URL": "redis://red-abc:6379"}
    assert Settings.from_env({**secrets, **fixed}).queue_backend == fixed.get("QUEUE_BACKEND", "thread")
    without_supabase = {k: v for k, v in secrets.items() if not k.startswith("SUPABASE_")}
    if fixed.get("QUEUE_BACKEND") == "rq":  # the blueprint names the Supabase store; its secrets are required
        assert fixed.get("STORE_BACKEND") == "supabase"
        with pytest.raises(ConfigError, match="STORE_BACKEND=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY"):
            Settings.from_env({**without_supabase, **fixed})


# -- Supabase URL and key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://abc.supabase.co", True),
        ("https://abc.supabase.co/", True),
        ("http://127.0.0.1:54321", True),  # a local Supabase (supabase start)
        ("http://abc.supabase.co", False),
        ("https://abc.supabase.co/rest/v1", False),  # the REST URL, not the project URL
        ("https://abc.supabase.co?x=1", False),
        ("https://user:pw@abc.supabase.co", False),
        ("abc.supabase.co", False),
        ("https://abc.supabase.co:99999", False),
    ],
)
def test_a_malformed_supabase_url_is_refused(url, ok):
    env = {**PRODUCTION, **SUPABASE, "SUPABASE_URL": url}
    if ok:
        assert Settings.from_env(env).store_backend == "supabase"
    else:
        with pytest.raises(ConfigError, match="SUPABASE_URL"):
            Settings.from_env(env)


@pytest.mark.parametrize(
    "key, ok",
    [
        ("sb_secret_0123456789abcdefghij", True),
        (jwt({"role": "service_role", "iss": "supabase"}), True),
        ("sb_publishable_0123456789abcdefghij", False),  # cannot write: every job would fail STORE_REJECTED
        (jwt({"role": "anon", "iss": "supabase"}), False),
        ("Bearer sb_secret_0123456789abcdefghij", False),
        ("sb_secret_0123 456789", False),
        ("eyJhbGciOiJIUzI1NiJ9.not-json.sig", False),
        ("service-role-key", False),
    ],
)
def test_a_malformed_supabase_key_is_refused(key, ok):
    env = {**PRODUCTION, **SUPABASE, "SUPABASE_SERVICE_KEY": key}
    if ok:
        assert Settings.from_env(env).store_backend == "supabase"
    else:
        with pytest.raises(ConfigError, match="SUPABASE_SERVICE_KEY") as info:
            Settings.from_env(env)
        assert key not in info.value.message  # a secret never appears in an error


# -- development warns about what it allows -------------------------------------------------------


def test_development_without_callback_secret_warns_at_start(tmp_path, caplog):
    settings = Settings.from_env({"APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "s.db"), "EDGAR_CACHE_DIR": str(tmp_path / "c")})
    with caplog.at_level(logging.WARNING):
        app = create_app(settings)
    services_of(app).close()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("CALLBACK_SECRET is not set: callbacks are sent unsigned" in m for m in warned), warned
    assert any("WORKER_SECRET is not set" in m for m in warned)
    signed = Settings.from_env({"APP_ENV": "development", "CALLBACK_SECRET": CALLBACK_SECRET})
    assert not any("CALLBACK_SECRET" in w for w in signed.warnings())


# -- make run: APP_ENV from the environment, then .env, then development -------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_project(to: Path) -> Path:
    """The files `make run` needs, with their times kept so that make sees an up-to-date .venv."""
    for path in ROOT.iterdir():
        if path.is_file() and (path.suffix in (".py", ".json", ".txt") or path.name == "Makefile"):
            shutil.copy2(path, to / path.name)
    return to


def venv_dir() -> Path:
    return Path(sys.executable).parent.parent


def base_python() -> str:
    """The Python that built the running .venv: make must see it as the venv's own and not rebuild."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}")


def make_run(project: Path, env: dict[str, str]):
    clean = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "APP_ENV_DEFAULT", "WORKER_SECRET", "CALLBACK_SECRET", "SEC_USER_AGENT")}
    return subprocess.Popen(["make", "run", f"VENV={venv_dir()}", f"PYTHON={base_python()}"], cwd=project, env={**clean, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(proc) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out


def ready_env(port: int) -> str | None:
    try:
        r = requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
    except requests.RequestException:
        return None
    return "up" if r.status_code == 200 else None


@pytest.mark.slow
def test_make_run_takes_app_env_from_dotenv(tmp_path):
    require(shutil.which("make") is not None, "make is not installed")
    project = copy_project(tmp_path)
    port = free_port()
    (project / ".env").write_text(f"APP_ENV=production\nPORT={port}\nSQLITE_PATH={tmp_path}/s.db\n")
    proc = make_run(project, {})
    try:
        proc.wait(60)
    finally:
        out = stop(proc)
    # production from .env: the secrets are required, so it must not start without them
    assert proc.returncode != 0 and "WORKER_SECRET is required" in out, out

    proc = make_run(project, {"APP_ENV": "development"})  # the environment wins over .env
    try:
        wait_for(lambda: ready_env(port), timeout=60, message="make run to serve in development")
    finally:
        out = stop(proc)
    assert "WORKER_SECRET is not set" in out

    (project / ".env").write_text(f"PORT={port}\nSQLITE_PATH={tmp_path}/s.db\n")  # neither: development
    proc = make_run(project, {})
    try:
        wait_for(lambda: ready_env(port), timeout=60, message="make run to serve with the development default")
    finally:
        out = stop(proc)
    assert "CALLBACK_SECRET is not set" in out


# -- make: Python 3.11+, and a .venv of another Python is rebuilt ------------------------------------------


def pyenv_python(version: str) -> str | None:
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    candidates += sorted(str(p) for p in Path(os.path.expanduser("~/.pyenv/versions")).glob(f"{version}.*/bin/python{version}"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def bare_project(tmp_path: Path) -> Path:
    """The Makefile with empty requirements: `make` builds a .venv in seconds."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("requirements.txt", "requirements-dev.txt"):
        (tmp_path / name).write_text("")
    return tmp_path


def venv_python_version(project: Path) -> str:
    return subprocess.run([str(project / ".venv/bin/python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_an_old_python_gets_a_clear_message(tmp_path):
    old = pyenv_python("3.10")
    require(old is not None, "no Python 3.10 on this machine to try")
    project = bare_project(tmp_path)
    result = subprocess.run(["make", ".venv/.installed", f"PYTHON={old}"], cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Python 3.11 or newer is needed" in result.stderr and "is Python 3.10" in result.stderr, result.stderr
    assert not (project / ".venv").exists()


@pytest.mark.slow
def test_a_venv_of_another_python_is_rebuilt(tmp_path):
    other = pyenv_python("3.12") or pyenv_python("3.13")
    require(other is not None, "no second Python (3.12 or 3.13) on this machine to build a foreign .venv")
    project = bare_project(tmp_path)
    subprocess.run([other, "-m", "venv", str(project / ".venv")], check=True, timeout=120)
    (project / ".venv/.installed").touch()  # a complete-looking .venv: only its Python is wrong
    ours = base_python()
    result = subprocess.run(["make", ".venv/.installed", f"PYTHON={ours}"], cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "was made by another Python" in result.stdout
    assert venv_python_version(project) == "%d.%d" % sys.version_info[:2]
    again = subprocess.run(["make", "--question", ".venv/.installed", f"PYTHON={ours}"], cwd=project, capture_output=True, timeout=60)
    assert again.returncode == 0  # now up to date: the next make run reuses it
