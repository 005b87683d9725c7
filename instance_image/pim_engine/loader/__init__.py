"""Load a PIM model from YAML, Markdown or normalized JSON into the one normalized ``Model``.

Every failure is a ``ModelError`` naming the file, the element and the line, whatever went wrong
underneath (a missing file, bad bytes, a YAML syntax error or a model that does not hold together).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pim_engine.loader.assembly import Locator
from pim_engine.loader.cli_validate import validate_command
from pim_engine.loader.normalized import parse_normalized
from pim_engine.model import Model, ModelError

Format = Literal["yaml", "markdown", "json"]

_SUFFIXES: dict[str, Format] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
}

__all__ = ["ModelError", "format_of", "load_model", "load_model_text", "model_from_dict", "validate_command"]


def format_of(path: str | os.PathLike[str]) -> Format:
    """The format a file name announces by its suffix; a ModelError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ModelError(
            f"unknown model file type {suffix or '(none)'!r}; expected one of {', '.join(_SUFFIXES)}",
            source=str(path),
        )
    return _SUFFIXES[suffix]


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read and parse a model file; the format comes from the suffix."""
    source = str(path)
    fmt = format_of(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ModelError(f"not UTF-8 text (byte {exc.start})", source=source, line=line) from None
    return load_model_text(text, fmt, source=source)


def load_model_text(text: str, fmt: Format, source: str | None = None) -> Model:
    """Parse model text in the given format; ``source`` names it in error messages."""
    where = Locator(source)
    if not isinstance(text, str):
        raise where.error(f"model text must be str, not {type(text).__name__}")
    text = text.removeprefix("\ufeff")
    # The YAML and Markdown readers load on demand: a pod is given the normalized JSON, and their
    # imports (PyYAML, a few hundred regular expressions) would add to every engine's cold start.
    if fmt == "yaml":
        from pim_engine.loader.yaml_format import parse_yaml

        return parse_yaml(text, where)
    if fmt == "markdown":
        from pim_engine.loader.markdown_format import parse_markdown

        return parse_markdown(text, where)
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise where.error(f"JSON syntax error: {exc.msg}", line=exc.lineno) from None
        return parse_normalized(data, where)
    raise where.error(f"unknown format {fmt!r}; expected yaml, markdown or json")


def model_from_dict(data: dict[str, Any]) -> Model:
    """The inverse of ``Model.to_dict()``, validated like every other input."""
    return parse_normalized(data, Locator(None))
