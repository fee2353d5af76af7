"""The README's runnable parts: the tour's shell blocks and the task example, as the e2e tests run them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARK = "@@block "


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def blocks(title: str, lang: str) -> list[str]:
    return [body for fence_lang, body in FENCE.findall(section(title)) if fence_lang == lang]


def tour_script(url: str, password: str) -> str:
    """The tour's shell blocks as one script, with the URL and password filled in and block markers."""
    parts = []
    for i, block in enumerate(blocks("A 60-second tour", "sh")):
        block = re.sub(r"^URL=.*$", f"URL={url}", block, flags=re.M)
        block = re.sub(r"^PASSWORD=.*$", f"PASSWORD='{password}'", block, flags=re.M)
        parts.append(f"echo '{MARK}{i}'\n{block}")
    return "set -e\n" + "\n".join(parts)


def run_tour(url: str, password: str, timeout_s: float = 240.0) -> tuple[int, list[str]]:
    """Run the tour with bash; (exit code, output of each block)."""
    proc = subprocess.run(
        ["bash", "-c", tour_script(url, password)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    outputs = re.split(rf"^{MARK}\d+\n", proc.stdout, flags=re.M)[1:]
    return proc.returncode, outputs + [proc.stderr]


def task_example() -> str:
    """The Python block of 'Writing a task'."""
    (code,) = blocks("Writing a task", "python")
    return code


if __name__ == "__main__":
    import sys

    code, outputs = run_tour(sys.argv[1], sys.argv[2])
    for i, out in enumerate(outputs):
        print(f"----- block {i}\n{out}", end="")
    print(f"----- exit {code}")
