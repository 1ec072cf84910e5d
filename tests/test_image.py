"""The image starts lean (issue 16, item 1): bytecode compiled into it, and glibc told to keep two heaps.

Found by measuring: with PYTHONDONTWRITEBYTECODE=1 and no .pyc in the image, every start recompiled
the service's modules (0.07-0.09 s); and each job thread got its own glibc heap arena, so a process
kept the memory of its busiest moment. No Docker daemon runs here, so the Dockerfile's own compile
command is run on a copy of the sources and the result checked the way Python loads it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

from conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
FINAL_STAGE = DOCKERFILE.rsplit("\nFROM ", 1)[1]


def run_lines() -> list[str]:
    """The final stage's RUN commands, continuation lines joined."""
    text = FINAL_STAGE.replace("\\\n", " ")
    return [line[4:].strip() for line in text.splitlines() if line.startswith("RUN ")]


def test_the_image_compiles_the_services_bytecode_before_dropping_root():
    compile_runs = [line for line in run_lines() if "compileall" in line]
    assert compile_runs, "no compileall in the final stage"
    assert FINAL_STAGE.index("compileall") > FINAL_STAGE.index("COPY --chown=app:app *.py")  # after the sources arrive
    assert FINAL_STAGE.index("compileall") < FINAL_STAGE.index("\nUSER ")  # root writes __pycache__, the app user reads it


def test_the_images_compile_command_gives_bytecode_python_loads_at_start(tmp_path):
    command = next(line for line in run_lines() if "compileall" in line).split("&&")[0]
    argv = shlex.split(command.replace("/app", str(tmp_path)))
    assert argv[:3] == ["python", "-m", "compileall"]
    for source in ROOT.glob("*.py"):
        shutil.copy2(source, tmp_path / source.name)
    subprocess.run([sys.executable, *argv[1:]], check=True, timeout=120)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    loaded = subprocess.run([sys.executable, "-v", "-c", "import app"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120).stderr
    ours = {p.stem for p in ROOT.glob("*.py") if p.stem not in ("gunicorn.conf",)}
    from_bytecode = set(re.findall(r"# code object from '.*/__pycache__/(\w+)\.cpython-\d+\.pyc'", loaded))
    compiled_at_start = set(re.findall(r"# code object from '?" + re.escape(str(tmp_path)) + r"/(\w+)\.py", loaded))
    assert compiled_at_start == set(), f"compiled at start: {sorted(compiled_at_start)}"
    assert {"app", "worker", "config", "section_extractor", "diff_analyzer"} <= from_bytecode & ours


def test_malloc_arena_max_is_set_in_the_image_and_the_blueprint():
    env_block = FINAL_STAGE.split("ENV ", 1)[1].split("\nRUN ", 1)[0]
    assert re.search(r"\bMALLOC_ARENA_MAX=2\b", env_block)
    render = yaml.safe_load((ROOT / "render.yaml").read_text())
    for service in (s for s in render["services"] if s["type"] in ("web", "worker")):
        values = {e["key"]: str(e.get("value")) for e in service["envVars"]}
        assert values.get("MALLOC_ARENA_MAX") == "2", service["name"]
    assert "MALLOC_ARENA_MAX=2" in (ROOT / "Makefile").read_text()  # make run too
