"""The engine's access rules, caches, API keys and settings, without a server."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from pim_engine.access import reviews, rules
from pim_engine.access.apiserver import ApiServer, ReviewFailed, TokenFile
from pim_engine.access.cache import TTLCache
from pim_engine.access.config import Access
from pim_engine.access.guard import credentials
from pim_engine.access.keys import KeyRing
from pim_engine.settings import SettingsError, parse_settings
from tests.support.secret_volume import publish

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


#: The README's table: what each request needs, on the instance's PimInstance.
NEEDS = {
    "get piminstances": (
        "GET /api/v1/orders",
        "HEAD /api/v1/orders/1",
        "OPTIONS /api/v1/orders",
        "GET /docs",
        "GET /openapi.json",
        "GET /model",
    ),
    "update piminstances": (
        "POST /api/v1/orders",
        "PUT /api/v1/orders/1",
        "PATCH /api/v1/orders/1",
        "DELETE /api/v1/orders/1",
        "POST /metrics",
    ),
    "get piminstances/metrics": ("GET /metrics",),
}


@pytest.mark.parametrize(("request_line", "needed"), [(r, n) for n, lines in NEEDS.items() for r in lines])
def test_reads_need_get_writes_update_and_metrics_its_own_subresource(request_line, needed):
    need = rules.need(*request_line.split())
    assert need is not None
    assert f"{need.verb} {need.resource}" == needed


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_the_kubelets_probes_stay_open(method, path):
    assert rules.need(method, path) is None


def test_ttl_cache_expires_entries_and_evicts_the_least_recently_used():
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(2, clock)
    cache.put("a", 1, ttl=10)
    cache.put("b", 2, ttl=1)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3, ttl=10)
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, 1, 3)
    clock.now += 10
    assert cache.get("a") is None
    assert len(cache) == 1  # the expired entry went when it was looked up
    with pytest.raises(ValueError, match="at least one"):
        TTLCache(0)


def test_every_entry_of_the_mounted_secret_is_a_key(tmp_path):
    publish(tmp_path, {"alice": "k-alice\n", "bob": "k-bob"}, 1)
    ring = KeyRing(tmp_path)
    assert len(ring) == 2
    assert ring.matches(b"k-alice")  # a trailing newline in the Secret is not part of the key
    assert ring.matches(b"k-bob")
    assert not ring.matches(b"k-bo")
    assert not ring.matches(b"")
    assert not ring.matches(b"..data")


def test_a_rotated_secret_is_picked_up_without_a_restart(tmp_path):
    clock = Clock()
    publish(tmp_path, {"current": "old-key"}, 1)
    ring = KeyRing(tmp_path, interval=2.0, clock=clock)
    assert ring.matches(b"old-key")
    publish(tmp_path, {"current": "new-key", "next": "spare"}, 2)
    assert ring.matches(b"old-key"), "the directory is looked at no more than every interval"
    clock.now += 2.0
    assert ring.matches(b"new-key")
    assert ring.matches(b"spare")
    assert not ring.matches(b"old-key")
    publish(tmp_path, {}, 3)
    clock.now += 2.0
    assert not ring.matches(b"new-key")
    assert len(ring) == 0


def test_a_missing_directory_means_no_keys_until_it_appears(tmp_path):
    clock = Clock()
    ring = KeyRing(tmp_path / "keys", interval=1.0, clock=clock)
    assert len(ring) == 0
    assert not ring.matches(b"anything")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k").write_text("late")
    clock.now += 1.0
    assert ring.matches(b"late")


def test_oversized_and_empty_key_files_are_skipped(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 5000)
    (tmp_path / "empty").write_text("  \n")
    (tmp_path / "ok").write_text("fine")
    ring = KeyRing(tmp_path)
    assert len(ring) == 1
    assert not ring.matches(b"x" * 5000)


def scope(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http", "headers": list(headers)}


def test_credentials_come_from_bearer_or_x_api_key():
    assert credentials(scope((b"authorization", b"Bearer abc "))) == (b"abc", None, False)
    assert credentials(scope((b"authorization", b"bearer abc"))) == (b"abc", None, False)
    assert credentials(scope((b"x-api-key", b"k1"))) == (None, b"k1", False)
    assert credentials(scope((b"authorization", b"Basic dXNlcjpwdw=="))) == (None, None, True)
    assert credentials(scope((b"authorization", b"Bearer "))) == (None, None, False)
    assert credentials(scope()) == (None, None, False)


def test_api_server_from_the_pod_or_from_the_environment(tmp_path):
    assert ApiServer.from_env({}) is None
    pod = ApiServer.from_env({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert pod is not None
    assert pod.url == "https://10.96.0.1:443"
    assert str(pod.token_file) == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    v6 = ApiServer.from_env({"KUBERNETES_SERVICE_HOST": "fd00::1"})
    assert v6 is not None
    assert v6.url == "https://[fd00::1]:443"
    here = ApiServer.from_env(
        {"PIM_KUBE_API": "https://127.0.0.1:6443/", "PIM_KUBE_TOKEN_FILE": "/t", "PIM_KUBE_CA_FILE": ""}
    )
    assert here == ApiServer("https://127.0.0.1:6443", Path("/t"), None)


def test_the_engines_token_is_read_again_after_a_minute_or_when_forced(tmp_path):
    clock = Clock()
    path = tmp_path / "token"
    path.write_text("one\n")
    token = TokenFile(path, clock)
    assert token.get() == "one"
    path.write_text("two")
    assert token.get() == "one"
    assert token.get(fresh=True) == "two"
    path.write_text("three")
    clock.now += 60
    assert token.get() == "three"
    path.unlink()
    with pytest.raises(ReviewFailed, match="cannot read the engine's ServiceAccount token"):
        token.get(fresh=True)


def settings(*argv: str, **env: str):
    return parse_settings(["--model", "m.yaml", "--db", "x.db", *argv], env)


def test_auth_defaults_to_none():
    assert settings().access == Access()
    assert not settings().access.enabled


def test_auth_modes_say_what_they_are_missing(tmp_path):
    token = tmp_path / "token"
    token.write_text("t")
    with pytest.raises(SettingsError, match="must be one of none, kubernetes, apikey, not 'oauth'"):
        settings("--auth", "oauth")
    with pytest.raises(SettingsError, match="needs --instance NAMESPACE/NAME"):
        settings("--auth", "kubernetes")
    with pytest.raises(SettingsError, match="must be NAMESPACE/NAME, not 'shop'"):
        settings("--auth", "kubernetes", "--instance", "shop")
    with pytest.raises(SettingsError, match="needs the Kubernetes API: run in a pod, or set PIM_KUBE_API"):
        settings("--auth", "Kubernetes", "--instance", "team/shop")
    with pytest.raises(SettingsError, match="no ServiceAccount token at /nowhere"):
        settings(
            "--auth", "kubernetes", "--instance", "team/shop", PIM_KUBE_API="https://x", PIM_KUBE_TOKEN_FILE="/nowhere"
        )
    with pytest.raises(SettingsError, match="needs --api-keys-dir"):
        settings(PIM_AUTH="APIKey")
    ok = settings(
        "--auth", "kubernetes", "--instance", "team/shop", PIM_KUBE_API="https://x", PIM_KUBE_TOKEN_FILE=str(token)
    ).access
    assert (ok.mode, ok.instance, ok.api_server and ok.api_server.url) == ("kubernetes", ("team", "shop"), "https://x")
    keys = settings(PIM_AUTH="apikey", PIM_API_KEYS_DIR=str(tmp_path)).access
    assert (keys.mode, keys.keys_dir, keys.api_server) == ("apikey", tmp_path, None)


def test_access_is_declared_in_the_openapi_document():
    schema = {"paths": {"/health": {"get": {}}, "/api/v1/items": {"get": {}}}}
    Access("apikey", keys_dir=Path(os.devnull)).document(schema)
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "apiKeyBearer"}
    assert schema["security"] == [{"apiKey": []}, {"apiKeyBearer": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []
    assert "security" not in schema["paths"]["/api/v1/items"]["get"]


def _jwt(claims: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.mark.parametrize(
    ("token", "audiences"),
    [
        (_jwt({"aud": ["pim.dev"]}), ("pim.dev",)),
        (_jwt({"aud": "pim.dev"}), ("pim.dev",)),
        (_jwt({"aud": ["https://kubernetes.default.svc", 7]}), ("https://kubernetes.default.svc",)),
        (_jwt(["not", "claims"]), ()),
        ("not.a.token", ()),
        ("a.!!!.c", ()),
        ("opaque-static-token", ()),
    ],
)
def test_the_claimed_audience_is_read_without_trusting_it(token, audiences):
    assert reviews.claimed_audiences(token) == audiences


def test_only_the_engine_asks_for_the_probe_audience_and_only_for_tokens_that_claim_it():
    probe = _jwt({"aud": ["pim.dev"]})
    assert reviews.token_review(probe, probe_audience=True)["spec"]["audiences"] == ["pim.dev"]
    assert "audiences" not in reviews.token_review(probe)["spec"]  # the console: the API server's own
    other = _jwt({"aud": ["https://kubernetes.default.svc"]})
    assert "audiences" not in reviews.token_review(other, probe_audience=True)["spec"]


def test_a_yes_for_another_audience_than_asked_is_a_no():
    yes = {"status": {"authenticated": True, "user": {"username": "u"}, "audiences": ["https://kubernetes"]}}
    assert reviews.reviewed_user(yes) == reviews.User("u")
    assert reviews.reviewed_user(yes, ["pim.dev"]) == "the token is not valid for audience pim.dev"
    ours = {"status": {**yes["status"], "audiences": ["pim.dev"]}}
    assert reviews.reviewed_user(ours, ["pim.dev"]) == reviews.User("u")
    no_audiences = {"status": {"authenticated": True, "user": {"username": "u"}}}
    assert isinstance(reviews.reviewed_user(no_audiences, ["pim.dev"]), str)
