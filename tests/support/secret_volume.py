"""A directory laid out as the kubelet mounts a Secret, and updated the way it updates one.

Keys are links through ``..data``, which points at a timestamped directory; an update writes a new
directory and swaps the ``..data`` link atomically. Tests of code that reads mounted Secrets (the
engine's API keys) use this instead of plain files, so they see what a pod sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def publish(directory: Path, keys: Mapping[str, str], generation: int) -> None:
    """Make ``directory`` hold exactly ``keys`` (generation: any number not used before for it)."""
    target = directory / f"..2026_01_01_00_00_{generation:02d}.000000000"
    target.mkdir()
    for name, value in keys.items():
        (target / name).write_text(value)
    tmp = directory / "..data_tmp"
    tmp.symlink_to(target.name)
    tmp.rename(directory / "..data")
    for name in keys:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")
    for entry in directory.iterdir():
        if entry.is_symlink() and not entry.name.startswith(".") and entry.name not in keys:
            entry.unlink()
