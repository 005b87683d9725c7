"""The operator's import graph keeps its layers (the contracts in pyproject's [tool.importlinter]).

Lower layers never import upward: the API types and the kube client know nothing of reconcilers
or probes, pure builders and status functions do no I/O. Every module of the package must sit in
a layer, so a new module is placed on purpose rather than slipping past the contracts.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter import api  # configures import-linter, as its CLI does
from importlinter.application.use_cases import lint_imports

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture(scope="module")
def contracts():
    return api.read_configuration(str(PYPROJECT))["contracts_options"]


def test_the_layering_contracts_are_kept(contracts, capsys):
    kept = lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, report
    assert f"{len(contracts)} kept, 0 broken" in report


def test_every_module_of_the_operator_sits_in_a_layer(contracts):
    (layers,) = [c for c in contracts if c.get("id") == "layers"]
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    packages = {p for name in placed for p in _parents(name)}
    graph = grimp.build_graph("pim_operator", cache_dir=None)
    loose = sorted(
        m for m in graph.modules if m not in packages and not any(m == p or m.startswith(p + ".") for p in placed)
    )
    assert loose == [], f"modules in no layer of pyproject's [tool.importlinter] layers contract: {loose}"


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
