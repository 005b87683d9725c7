"""How benchmarks report: progress as timestamped lines on stderr (stdout carries the results), and
results written into BENCHMARKS.md, where each benchmark owns blocks between HTML comment markers, so
a new run replaces its own figures and leaves the prose and other sections alone."""

from __future__ import annotations

import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def update_block(path: Path, section: str, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers: in place where they are, else at the end of the
    ``## section`` section, else in a new section at the end of the file."""
    begin, end = markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = f"\n## {section}\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    elif heading in text:
        head, _, rest = text.partition(heading)
        nxt = rest.find("\n## ")
        body_text, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
        text = f"{head}{heading}{body_text.rstrip()}\n\n{block}\n{tail}"
    else:
        text = text.rstrip("\n") + f"\n{heading}\n{block}\n"
    path.write_text(text)
