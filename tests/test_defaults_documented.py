"""README.md and .env.example state the defaults defaults.py has (issue 16: defaults changed from measurement).

Every setting whose README default is one literal value (`2`, `var/edgar-cache`) must match the code's,
and .env.example, where it fills the variable in, must give the same value: a newcomer copying it
gets the measured defaults, not stale ones.
"""

from __future__ import annotations

import re
from dataclasses import fields

from config import Settings
from conftest import ROOT


def documented_defaults() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| `([^`|]+)` \|", (ROOT / "README.md").read_text(), re.M)
    return dict(rows)


def example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"([A-Z0-9_]+)=(\S*)", line)
        if match and match.group(2):
            values[match.group(1)] = match.group(2)
    return values


def same(text: str, value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return text == str(value)


def test_readme_and_env_example_state_the_codes_defaults():
    code = {f.name.upper(): f.default for f in fields(Settings) if f.default is not None and not callable(f.default)}
    readme, example = documented_defaults(), example_values()
    checked = 0
    for name, value in code.items():
        if name in readme:
            assert same(readme[name], value), f"README says {name}={readme[name]}, the code {value}"
            checked += 1
        if name in example and name != "APP_ENV":  # .env.example is a development setup
            assert same(example[name], value), f".env.example says {name}={example[name]}, the code {value}"
    assert checked >= 30
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "MAX_CONCURRENT_JOBS", "MAX_QUEUED_JOBS"):
        assert name in readme and name in example


def test_every_setting_is_in_the_readme_and_in_env_example():
    """A new setting is documented where an operator looks: the configuration table and .env.example."""
    readme = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    settings = {f.name.upper() for f in fields(Settings)}
    assert settings - readme == set(), "not in README's configuration table"
    assert settings - example == set(), "not in .env.example"
