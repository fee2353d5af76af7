"""The README stays true: its first commands, its configuration table, its commands and its dependencies.

`python -m tests.unit.test_readme` prints the configuration table generated from app.settings.
"""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path

import pytest

from app.cli import build_parser
from app.settings import Settings, settings_table

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*([^|]*?)\s*\|", re.M)


@cache
def readme() -> str:
    path = ROOT / "README.md"
    return path.read_text() if path.exists() else ""


def render_default(raw: str) -> str:
    """A default as the README shows it: tuples comma-separated, floats without a needless `.0`."""
    value = ast.literal_eval(raw)
    if value in ("", ()):
        return "(unset)"
    if isinstance(value, tuple):
        return "`" + ",".join(render_default(repr(v)).strip("`") for v in value) + "`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def config_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{var}` | {render_default(default)} | {doc} |" for var, default, doc in settings_table()]
    return "\n".join(rows)


def section(title: str) -> str:
    """The README text under `## title`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme(), re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def readme_rows() -> dict[str, str]:
    return dict(ROW.findall(section("Configuration")))


def test_readme_starts_with_make_dev_and_make_test():
    before_first_section = readme().split("\n## ", 1)[0]
    first_block = FENCE.search(before_first_section)

    assert first_block, "the README must open with a code block"
    commands = [line.split("#")[0].strip() for line in first_block.group(2).splitlines()]
    assert [c for c in commands if c] == ["make dev", "make test"]


def test_make_targets_and_ci_entry_point_exist():
    makefile = (ROOT / "Makefile").read_text()

    assert re.search(r"^dev:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_every_setting_is_in_the_configuration_table():
    rows = readme_rows()
    missing = [var for var, _, _ in settings_table() if var not in rows]

    assert not missing, f"add to README (python -m tests.unit.test_readme prints the table): {missing}"


def test_the_configuration_table_names_only_real_settings_with_their_defaults():
    expected = {var: render_default(default) for var, default, _ in settings_table()}

    for var, default in readme_rows().items():
        assert var in expected, f"README documents {var}, which Jobline does not read"
        assert default == expected[var], f"README default of {var}: {default} != {expected[var]}"


def test_every_default_in_the_table_is_accepted_by_settings():
    env = {var: default.strip("`") for var, default in readme_rows().items() if default != "(unset)"}

    assert Settings.from_env(env) == Settings()


def jobline_commands() -> list[str]:
    lines = []
    for lang, body in FENCE.findall(readme()):
        if lang in ("sh", "bash", "console", ""):
            for line in body.replace("\\\n", " ").splitlines():
                line = re.sub(r"^\$\s+", "", line.strip())
                if line.startswith("jobline "):
                    lines.append(line.split(" #")[0].strip())
    inline = re.findall(r"(?<!`)`(jobline [^`]+)`", FENCE.sub("", readme()))
    return sorted(set(lines + inline))


def test_the_readme_shows_the_production_commands():
    commands = jobline_commands()

    for needed in ("jobline api", "jobline worker --queues", "jobline scheduler", "worker --check"):
        assert any(needed in c for c in commands), f"README shows no `{needed}` command"


@pytest.mark.parametrize("command", jobline_commands())
def test_every_jobline_command_in_the_readme_parses(command):
    argv = shlex.split(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", command))
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as e:
        pytest.fail(f"README command `{command}` does not parse (exit {e.code})")


def requirement_names() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [spec for group in project["optional-dependencies"].values() for spec in group]
    specs = [*project["dependencies"], *extras]
    return [re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0] for spec in specs]


def test_every_dependency_is_justified_in_the_readme():
    deps = section("Dependencies").lower()

    missing = [name for name in requirement_names() if f"`{name.lower()}`" not in deps]

    assert not missing, f"README's Dependencies section does not explain: {missing}"


if __name__ == "__main__":
    print(config_table())
