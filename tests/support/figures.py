"""Figures the reliability tests measure (takeover times, writes per replica, recovery times, Event
counts), appended as JSON lines to ``build/figures.jsonl`` (or ``$PIM_FIGURES``): RELIABILITY.md
quotes them from a run, and a later run can be compared line by line."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def record(name: str, value: float, **context: object) -> None:
    path = Path(os.environ.get("PIM_FIGURES") or REPO / "build" / "figures.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "name": name,
        "value": round(value, 3) if isinstance(value, float) else value,
        "test": (os.environ.get("PYTEST_CURRENT_TEST") or "").split(" ")[0],
        "at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **context,
    }
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    print(f"figure {name} = {line['value']}")
