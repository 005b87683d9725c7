"""``pim-engine``: validate a model file, or serve it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pim-engine", description="Load a PIM model and serve it as a REST service.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{validate,serve}")
    val = sub.add_parser("validate", help="load a model file and report errors (or print it normalized)")
    val.add_argument("file", help="model file: .yaml/.yml, .md/.markdown or normalized .json")
    val.add_argument("--json", action="store_true", help="print the normalized model as JSON")
    sub.add_parser("serve", help="serve a model over its own database (see `pim-engine serve --help`)", add_help=False)
    if args[:1] == ["serve"]:
        # serve owns its flags (and their environment-variable defaults); hand them over untouched.
        from pim_engine.serve import main as serve_main

        return serve_main(args[1:])
    ns = parser.parse_args(args)
    from pim_engine.loader.cli_validate import validate_command

    return validate_command(ns.file, ns.json)


if __name__ == "__main__":
    raise SystemExit(main())
