"""Fixtures of the engine tests: one shop engine shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from engine_harness import SHOP_MODEL, Engine


@pytest.fixture(scope="session")
def shop_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for the whole session on the shop model; tests create their own rows."""
    db = tmp_path_factory.mktemp("shop") / "shop.db"
    with Engine(SHOP_MODEL, db) as engine:
        yield engine


@pytest.fixture
def api(shop_engine: Engine) -> Iterator[httpx.Client]:
    with shop_engine.client() as client:
        yield client
