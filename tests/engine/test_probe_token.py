"""The operator's probe of an engine with auth on: /ready answers without a credential, /metrics
only with the token the probe shows (here an API key; in a cluster a projected token for the
audience pim.dev), and a refused scrape is said in the probe's message instead of passing for no metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from engine_harness import SHOP_MODEL, Engine

from pim_operator.probe import loop
from pim_operator.probe.result import ReplicaProbe
from tests.support.secret_volume import publish

KEY = "k-probe-5d0c2e"


@pytest.fixture
def engine(tmp_path: Path):
    keys = tmp_path / "api-keys"
    keys.mkdir()
    publish(keys, {"operator": KEY}, 1)
    with Engine(SHOP_MODEL, tmp_path / "shop.db", env={"PIM_AUTH": "apikey", "PIM_API_KEYS_DIR": str(keys)}) as e:
        yield e


def test_metrics_are_read_with_the_probe_token_and_a_refusal_is_named(engine, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(f"{KEY}\n")
    token = loop.ProbeToken(token_file)

    async def probe(headers: dict[str, str] | None) -> tuple[ReplicaProbe, object]:
        async with httpx.AsyncClient(timeout=5) as http:
            return await loop._probe_pod(http, "127.0.0.1", engine.port, headers)

    answer, sample = asyncio.run(probe(token.headers()))
    assert (answer.ok, answer.message) == (True, "ready")
    assert sample is not None

    answer, sample = asyncio.run(probe(None))
    assert answer.ok
    assert answer.message.startswith("ready; /metrics answered 401: ")
    assert sample is None


def test_the_token_is_read_again_after_a_while_as_the_kubelet_rotates_it(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: clock[0])
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    token = loop.ProbeToken(token_file)
    assert token.headers() == {"Authorization": "Bearer first"}
    token_file.write_text("second\n")
    assert token.headers() == {"Authorization": "Bearer first"}  # read at most once a minute
    clock[0] += loop.TOKEN_REREAD
    assert token.headers() == {"Authorization": "Bearer second"}
    token_file.unlink()
    clock[0] += loop.TOKEN_REREAD
    assert token.headers() == {"Authorization": "Bearer second"}  # a missing file keeps the last token
    assert loop.ProbeToken(None).headers() == {}
