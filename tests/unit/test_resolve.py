"""Which snapshot an instance serves: the decision that protects running models and their data."""

from __future__ import annotations

import pytest

from pim_operator.reconciler.piminstance.resolve import resolve
from pim_operator.reconciler.pimmodel.load import Loaded, load

pytestmark = pytest.mark.unit

V1 = """
domain: library
entities:
  - name: Book
    attributes:
      title: string
      price: {type: decimal, required: false}
"""
V2 = V1 + "      pages: {type: integer, required: false}\n"
DROPS_PRICE = """
domain: library
entities:
  - name: Book
    attributes:
      title: string
"""


def loaded(text: str) -> Loaded:
    return load(text, "yaml", "test")


def test_first_resolution_serves_the_model():
    r = resolve("books", loaded(V1), None, allow_destructive=False)
    assert r.snapshot == loaded(V1).snapshot
    assert r.digest == loaded(V1).model.digest
    assert (r.condition.status, r.condition.reason) == ("True", "Resolved")


def test_additive_change_rolls_forward():
    r = resolve("books", loaded(V2), loaded(V1).snapshot, allow_destructive=False)
    assert r.digest == loaded(V2).model.digest
    assert r.condition.status == "True"


def test_destructive_change_keeps_the_running_snapshot_and_names_the_loss():
    old = loaded(V1)
    r = resolve("books", loaded(DROPS_PRICE), old.snapshot, allow_destructive=False)
    assert r.snapshot == old.snapshot
    assert r.digest == old.model.digest
    assert r.condition.reason == "DestructiveModelChange"
    assert "Book.price" in r.condition.message
    allowed = resolve("books", loaded(DROPS_PRICE), old.snapshot, allow_destructive=True)
    assert allowed.digest == loaded(DROPS_PRICE).model.digest


def test_invalid_or_missing_model_keeps_what_runs():
    old = loaded(V1)
    bad = loaded("domain: x\nentities:\n  - name: A\n    attributes: {a: strang}\n")
    assert bad.error is not None
    r = resolve("books", bad, old.snapshot, allow_destructive=False)
    assert (r.snapshot, r.condition.reason) == (old.snapshot, "ModelInvalid")
    assert "strang" in r.condition.message
    assert old.model.digest in r.condition.message
    gone = resolve("books", None, old.snapshot, allow_destructive=False)
    assert (gone.snapshot, gone.condition.reason) == (old.snapshot, "ModelNotFound")
    nothing = resolve("books", None, None, allow_destructive=False)
    assert (nothing.snapshot, nothing.digest) == (None, None)


def test_a_corrupt_snapshot_is_rederived_from_the_model():
    r = resolve("books", loaded(V1), "{}", allow_destructive=False)
    assert r.snapshot == loaded(V1).snapshot
    assert r.condition.status == "True"


def test_loading_is_memoized_by_text():
    assert load(V1, "yaml", "a") is load(V1, "yaml", "a")


def test_a_model_too_big_for_an_instances_configmap_is_refused_with_its_size(monkeypatch):
    from pim_operator.reconciler.pimmodel import load as load_module

    monkeypatch.setattr(load_module, "SNAPSHOT_LIMIT", 200)
    loaded = load(V1 + "# too big\n", "yaml", "pimmodel/ns/big")
    assert loaded.model is None
    assert loaded.error is not None
    assert loaded.error.startswith("pimmodel/ns/big: the normalized model (1 entities) is ")
    assert "at most 200 bytes: split the model" in loaded.error
