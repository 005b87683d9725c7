"""The upstream engine's own model files (a corpus outside this repository), for the tests that
load and serve every one of them.

Where they are: ``PIM_UPSTREAM_MODELS``, else ``shared/models/upstream`` beside the repository (the
layout of the machines this project is built on). Missing, they skip with a message that says how
to run them; in CI (``CI`` set) they fail instead, since a skipped corpus would look like a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO.parent / "shared" / "models" / "upstream"
SUFFIXES = (".md", ".yaml", ".yml")


def upstream_dir() -> Path:
    """The corpus directory; skips (fails in CI) the calling test when it is not there."""
    configured = os.environ.get("PIM_UPSTREAM_MODELS")
    path = Path(configured).expanduser() if configured else DEFAULT
    if path.is_dir():
        return path
    where = f"PIM_UPSTREAM_MODELS={configured}" if configured else f"{DEFAULT} (the default)"
    message = (
        f"the upstream model corpus is not at {where}; to run these tests, point PIM_UPSTREAM_MODELS "
        "at a directory of the upstream engine's model files (.md/.yaml), e.g. "
        "`PIM_UPSTREAM_MODELS=/path/to/models/upstream make test-fast`"
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def upstream_models() -> list[Path]:
    """Every model file of the corpus, sorted."""
    return sorted(p for p in upstream_dir().iterdir() if p.suffix in SUFFIXES)
