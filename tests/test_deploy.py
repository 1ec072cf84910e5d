"""Dockerfile, render.yaml and railway.json: valid, in agreement, and their start command boots."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, wait_for
from config import Settings

RENDER = yaml.safe_load((ROOT / "render.yaml").read_text())
RAILWAY = json.loads((ROOT / "railway.json").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SECRETS = {"WORKER_SECRET", "CALLBACK_SECRET", "SUPABASE_SERVICE_KEY", "ANTHROPIC_API_KEY", "SENTRY_DSN", "SEC_USER_AGENT"}
PROCESS_VARIABLES = {"MALLOC_ARENA_MAX"}  # read by the C library, not by the settings


def dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE, re.M)
    return json.loads(match.group(1))


def web_service() -> dict:
    return next(s for s in RENDER["services"] if s["type"] == "web")


def test_the_three_start_commands_agree():
    cmd = dockerfile_cmd()
    assert cmd == ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]
    assert shlex.split(web_service()["dockerCommand"]) == cmd
    assert shlex.split(RAILWAY["deploy"]["startCommand"]) == cmd


def test_dockerfile_shape():
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    assert len(froms) >= 2 and all(re.match(r"python:3\.(1[1-9])-slim", f) for f in froms)  # multi-stage, slim, 3.11+
    assert DOCKERFILE.index("COPY requirements.txt") < DOCKERFILE.index("RUN pip install")  # dependencies layer first
    assert re.search(r"^USER\s+(?!root)\w+", DOCKERFILE, re.M)
    # everything the app writes must exist and belong to it before USER drops root (a RUN after USER runs unprivileged)
    after_user = DOCKERFILE.split("\nUSER ", 1)[1]
    assert "RUN " not in after_user.split("\nCMD", 1)[0] and "chown app:app /app/var" in DOCKERFILE
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", DOCKERFILE, re.M)
    assert ".env" not in re.findall(r"^COPY\s+.*", DOCKERFILE, re.M)[-1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored


def test_render_blueprint():
    web = web_service()
    assert web["runtime"] == "docker" and web["healthCheckPath"] == "/health"
    known = {f.upper() for f in Settings.__dataclass_fields__}
    for service in (s for s in RENDER["services"] if s["type"] in ("web", "worker")):
        env = {e["key"]: e for e in service["envVars"]}
        for secret in SECRETS:
            assert env[secret].get("sync") is False and "value" not in env[secret], (service["name"], secret)
        assert set(env) <= known | PROCESS_VARIABLES, service["name"]
        assert service["maxShutdownDelaySeconds"] > float(env["GRACEFUL_TIMEOUT_SECONDS"]["value"])
    env = {e["key"]: e for e in web["envVars"]}
    if env["QUEUE_BACKEND"]["value"] == "rq":  # the rq topology: a worker service and a Key Value instance
        worker = next(s for s in RENDER["services"] if s["type"] == "worker")
        redis = next(s for s in RENDER["services"] if s["type"] == "keyvalue")
        assert shlex.split(worker["dockerCommand"]) == ["python", "-m", "worker", "rq-worker"]
        assert env["REDIS_URL"]["fromService"] == {"type": "keyvalue", "name": redis["name"], "property": "connectionString"}
        assert redis["maxmemoryPolicy"] == "noeviction" and redis["ipAllowList"] == []


def test_railway_config():
    deploy = RAILWAY["deploy"]
    assert RAILWAY["build"]["builder"] == "DOCKERFILE" and deploy["healthcheckPath"] == "/health"
    assert deploy["restartPolicyType"] in ("ON_FAILURE", "ALWAYS", "NEVER")
    assert deploy["drainingSeconds"] > Settings().graceful_timeout_seconds


@pytest.mark.slow
@pytest.mark.parametrize("source", ["render.yaml", "railway.json", "Dockerfile"])
def test_declared_start_command_boots(source, tmp_path):
    command = {
        "render.yaml": lambda: shlex.split(web_service()["dockerCommand"]),
        "railway.json": lambda: shlex.split(RAILWAY["deploy"]["startCommand"]),
        "Dockerfile": dockerfile_cmd,
    }[source]()
    command[0] = str(Path(sys.executable).parent / command[0])
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "APP_ENV": "production", "WORKER_SECRET": WORKER_SECRET,
           "CALLBACK_SECRET": CALLBACK_SECRET, "CALLBACK_ALLOWED_HOSTS": "abc.supabase.co", "SEC_USER_AGENT": USER_AGENT,
           "SQLITE_PATH": str(tmp_path / "store.db"), "EDGAR_CACHE_DIR": str(tmp_path / "cache"), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def healthy():
            try:
                return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert wait_for(healthy, timeout=30, message=f"{source}'s start command to serve /health")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
