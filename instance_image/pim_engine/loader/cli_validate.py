"""``pim-engine validate FILE [--json]``: load a model and report it, or say in one line why not."""

from __future__ import annotations

import json
import sys

from pim_engine.model import ModelError


def validate_command(path: str, as_json: bool) -> int:
    """0 with the model (summary or normalized JSON) on stdout; 1 with ``error: ...`` on stderr."""
    from pim_engine.loader import load_model

    try:
        model = load_model(path)
    except ModelError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(model.to_dict(), ensure_ascii=False, indent=2))
    else:
        names = ", ".join(e.name for e in model.entities)
        print(f"ok: {model.domain} {model.version} {model.digest} ({len(model.entities)} entities: {names})")
    return 0
