"""The Edge Functions' own tests (supabase/functions/tests/, `deno test`), run by the real Deno from
node_modules so that `make test` runs them, and the function configuration Supabase deploys with.

`deno test` type-checks every module it loads first, the functions included; a type error fails here.
The functions against the real PostgREST, the real worker and each other: tests/test_saas_e2e.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

from supabase_stack import DENO, FUNCTIONS_DIR, ROOT, require_tools


def test_the_functions_own_deno_tests_pass():
    require_tools(DENO)
    env = {**os.environ, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"}
    result = subprocess.run(
        [str(DENO), "test", "--allow-net", "--allow-env", "--allow-read", "--no-prompt", str(FUNCTIONS_DIR / "tests")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    summary = re.search(r"^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed", output, re.M)
    print(summary.group(0) if summary else output[-3000:])
    assert result.returncode == 0, output[-6000:]
    assert summary and int(summary.group(2)) >= 20 and summary.group(3) == "0", output[-3000:]


def test_only_the_callback_receiver_skips_the_gateways_jwt_check():
    """report-callback is called by the worker (no user JWT): the signature is its authentication."""
    config = tomllib.loads((ROOT / "supabase" / "config.toml").read_text())
    functions = config["functions"]
    assert functions["report-callback"]["verify_jwt"] is False
    assert [name for name, f in functions.items() if f.get("verify_jwt", True) is False] == ["report-callback"]
    deployed = sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/index.ts"))
    assert deployed == ["generate-report", "report-callback"] and sorted(functions) == deployed


def test_functions_import_npm_packages_the_lock_file_pins():
    """Offline, Deno resolves `npm:` specifiers from ./node_modules only when the version range matches."""
    import json

    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for source in FUNCTIONS_DIR.rglob("*.ts"):
        for name, wanted in re.findall(r'"npm:((?:@[\w-]+/)?[\w.-]+)@(\d+)', source.read_text()):
            version = locked.get(f"node_modules/{name}", {}).get("version")
            assert version and version.split(".")[0] == wanted, (source.name, name, wanted, version)
