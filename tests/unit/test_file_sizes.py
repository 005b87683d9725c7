"""No source file over 500 lines: past that a module holds more than its name can say.

There are no exceptions: the last files over the limit were split by what they hold (issue 10), and a
file that grows past it is split the same way rather than listed here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LIMIT = 500
SOURCE_SUFFIXES = (".py", ".sh")


def source_files() -> dict[str, int]:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        path: len((REPO / path).read_text(errors="replace").splitlines())
        for path in tracked
        if path.endswith(SOURCE_SUFFIXES) and (REPO / path).is_file()
    }


def test_no_source_file_is_over_the_limit():
    sizes = source_files()
    assert len(sizes) > 50, "found too few source files: is this a git checkout?"
    over = {p: n for p, n in sizes.items() if n > LIMIT}
    assert over == {}, f"source files over {LIMIT} lines (split them by what they hold): {over}"
