"""Render the JSON results of bench.listing and bench.memory as the markdown tables of docs/benchmarks.md.

.venv/bin/python -m bench.report docs/bench-listing.json docs/bench-memory.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def listing_table(data: dict[str, Any]) -> str:
    rows = data["rows"]
    small, big = (k for k in rows[0] if k.isdigit())
    head = (
        f"| call | p50 ms @{small} | p50 ms @{big} | ratio | HTTP p50 ms @{small} | HTTP p50 ms @{big} "
        f"| p95 ms @{big} | round trips | commands @{big} | server µs @{small} | server µs @{big} |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        s, b = r[small], r[big]
        lines.append(
            f"| {r['name']} | {s['p50_ms']} | {b['p50_ms']} | {r['ratio_p50']} | {s.get('http_p50_ms', '')} "
            f"| {b.get('http_p50_ms', '')} | {b['p95_ms']} | {b['round_trips']:g} | {b['commands']:g} "
            f"| {s['server_us']} | {b['server_us']} |"
        )
    return "\n".join(lines)


def memory_table(data: dict[str, Any]) -> str:
    lines = ["| setup | completed: bytes/job | failed: bytes/job | failed hash encoding |"]
    lines.append("|---|---|---|---|")
    for name, key in (
        ("Jobline, `hash-max-listpack-value 8192` (recommended)", "jobline_recommended_config"),
        ("Jobline, Redis defaults", "jobline_default_config"),
        ("vanilla RQ 3.0 (defaults, SimpleWorker)", "vanilla_rq"),
    ):
        d = data[key]
        enc = d["failed"].get("hash_encoding", "")
        lines.append(
            f"| {name} | {d['completed']['bytes_per_job']:.0f} | {d['failed']['bytes_per_job']:.0f} | {enc} |"
        )
    flat = data.get("flat")
    if flat:
        lines += [
            "",
            f"Flat: {flat['failures_after_warmup']:,} failures through one queue capped at {flat['cap']} "
            f"in {flat['seconds']} s: used_memory baseline {flat['baseline']:,} B, min {flat['min']:,}, "
            f"max {flat['max']:,}, final {flat['final']:,}: largest deviation {flat['max_deviation_pct']} %; "
            f"{flat['stored_failed']} failed jobs and {flat['job_hashes']} job hashes stored at the end.",
        ]
    return "\n".join(lines)


def main() -> int:
    listing = json.loads(Path(sys.argv[1]).read_text())
    memory = json.loads(Path(sys.argv[2]).read_text())
    print(listing_table(listing))
    print()
    print(memory_table(memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
