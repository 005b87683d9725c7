"""Property-based fuzzing of a real engine process on each backend, driven by its own ``/openapi.json``.

Hypothesis builds requests from the document: every path and method it lists (and some it does
not), bodies shaped like the write schemas with values of every JSON kind, including what JSON
parsers disagree on (NaN, Infinity, huge numbers, lone surrogates, deep nesting, raw garbage), query
strings over the attributes. The property: no answer is a 5xx, and every collection still lists
afterwards. Bounded for CI: ``PIM_FUZZ_EXAMPLES`` examples (default 400).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from backends import BACKENDS, database_factory
from engine_harness import SHOP_MODEL, Engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("PIM_FUZZ_EXAMPLES", "400"))

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(max_size=30),
    st.sampled_from(["\ud800", "a\udfffb", "\ud83d\ude00", "", "NaN", "1e999", "2024-02-30", "25:61", "true", "１"]),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def encode(value: Any) -> bytes:
    """JSON as a lax encoder writes it: NaN/Infinity literals, surrogates as escapes."""
    return json.dumps(value, allow_nan=True, ensure_ascii=True).encode()


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with Engine(SHOP_MODEL, database_factory(request, request.param, tmp_path_factory.mktemp("fuzz"))()) as engine:
        yield engine


@pytest.fixture(scope="module")
def document(fuzz_engine: Engine) -> dict[str, Any]:
    with fuzz_engine.client() as api:
        for n in range(3):
            api.post("/api/v1/customers", json={"name": f"c{n}", "email": f"c{n}@example.org"})
        return api.get("/openapi.json").json()


def _body_for(schema: dict[str, Any], data: st.DataObject) -> bytes:
    properties = list(schema.get("properties", {}))
    chosen = (
        data.draw(st.lists(st.sampled_from(properties), unique=True, max_size=len(properties))) if properties else []
    )
    body: dict[str, Any] = {name: data.draw(json_values) for name in chosen}
    if data.draw(st.booleans()):
        body[data.draw(st.text(max_size=6))] = data.draw(json_values)
    kind = data.draw(st.integers(0, 9))
    if kind == 0:
        return data.draw(st.binary(max_size=64))
    if kind == 1:
        raw = encode(body)
        cut = data.draw(st.integers(0, len(raw)))
        return raw[:cut]
    if kind == 2:
        depth = data.draw(st.integers(1, 3000))
        return b'{"meta": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == 3:
        return encode(data.draw(json_values))
    return encode(body)


def _exchange(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),
)
@given(data=st.data())
def test_no_request_gets_a_5xx(fuzz_engine: Engine, document: dict[str, Any], data: st.DataObject) -> None:
    paths = document["paths"]
    template = data.draw(st.sampled_from([*sorted(paths), "/api/v1/{x}", "/api/v1/customers/{id}/x"]))
    operations = paths.get(template, {})
    known = [m.upper() for m in operations if m in ("get", "post", "put", "patch", "delete")]
    method = data.draw(st.sampled_from([*known, "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    ident = data.draw(st.one_of(st.integers(-3, 10).map(str), st.text(min_size=1, max_size=12)))
    path = template.replace("{id}", quote(ident, safe="")).replace("{x}", quote(ident, safe=""))
    params = [p["name"] for p in operations.get("get", {}).get("parameters", []) if p.get("in") == "query"]
    pairs = data.draw(
        st.lists(
            st.tuples(st.sampled_from([*params, "x"]) if params else st.just("x"), st.text(max_size=12)),
            max_size=4,
        )
    )
    query = urlencode(pairs)
    body = b""
    content_type = "application/json"
    if method in ("POST", "PUT", "PATCH"):
        operation = operations.get(method.lower(), {})
        ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        name = ref.get("$ref", "").rsplit("/", 1)[-1]
        schema = document["components"]["schemas"].get(name, {"properties": {}})
        body = _body_for(schema, data)
        content_type = data.draw(st.sampled_from(["application/json", "application/json", "text/plain", ""]))
    target = path + (f"?{query}" if query else "")
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    status = _exchange(fuzz_engine.port, head.encode() + b"\r\n" + body)
    assert 0 < status < 500, f"{method} {target} -> {status}; body {body[:200]!r}"


def test_every_collection_lists_after_fuzzing(fuzz_engine: Engine, document: dict[str, Any]) -> None:
    """Runs after the fuzzing above (file order): nothing it sent broke a collection."""
    with fuzz_engine.client() as api:
        for path, operations in document["paths"].items():
            if path.startswith("/api/v1/") and "{" not in path and "get" in operations:
                listing = api.get(path, params={"limit": 1000})
                assert listing.status_code == 200, (path, listing.text)
                for item in listing.json()["items"]:
                    assert api.get(f"{path}/{quote(str(next(iter(item.values()))), safe='')}").status_code == 200
