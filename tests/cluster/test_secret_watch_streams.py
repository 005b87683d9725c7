"""The per-Secret watches against a real API server, while watches of other Secrets come and go.

Two CI runs saw one instance's Secret watch stop delivering events partway through
tests/cluster/test_database.py, with nothing logged. Here many Secrets are watched at once, half the
watches are cancelled while their events are on the wire, and every change of every Secret still
watched must reach the summaries.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json

import pytest

from pim_operator.kube.client import KubeClient
from pim_operator.kube.config import Credentials, Source
from pim_operator.secret_summary import SecretSummary, digest
from pim_operator.secret_watch import SecretWatches
from tests.support.waiting import wait_for_async

pytestmark = pytest.mark.cluster

SECRETS = 24
ROUNDS = 6


def secrets_list(ns: str, value: str) -> str:
    items = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"s{i}", "namespace": ns},
            "data": {"uri": base64.b64encode(f"{value}-{i}".encode()).decode()},
        }
        for i in range(SECRETS)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def test_every_change_arrives_while_other_watches_are_cancelled(cluster):
    ns = cluster.namespace("secret-watch")
    cluster.kubectl("apply", "-f", "-", input=secrets_list(ns, "v0"))
    uids = {
        s["metadata"]["name"]: s["metadata"]["uid"] for s in cluster.get("secrets", "-n", ns)["items"] if s.get("data")
    }

    async def scenario() -> None:
        client = KubeClient(Credentials(Source(str(cluster.kubeconfig))))
        changed: list[tuple[str, str]] = []
        watches = SecretWatches(client, changed.append)
        instances = [(ns, f"i{i}") for i in range(SECRETS)]
        secret = {inst: (ns, f"s{i}") for i, inst in enumerate(instances)}

        async def settled(value: str, users: list[tuple[str, str]]) -> bool:
            """True once every user's summary holds ``value``; else raises, naming the stale ones."""
            stale = []
            for inst in users:
                summary: SecretSummary | None = await watches.use(inst, secret[inst])
                want = digest(uids[secret[inst][1]], f"{value}-{inst[1][1:]}".encode())
                if summary is None or summary.digests.get("uri") != want:
                    stale.append(secret[inst][1])
            if stale:
                raise AssertionError(f"{len(stale)} of {len(users)} Secrets stale: {', '.join(stale)}")
            return True

        try:
            for inst in instances:
                await watches.use(inst, secret[inst])
            for n in range(1, ROUNDS + 1):
                # Changes on the wire for every watch, then half the watches cancelled mid-stream.
                await asyncio.to_thread(cluster.kubectl, "apply", "-f", "-", input=secrets_list(ns, f"a{n}"))
                leaving = instances[n % 2 :: 2]
                for inst in leaving:
                    watches.forget(inst)
                staying = [i for i in instances if i not in leaving]
                await wait_for_async(functools.partial(settled, f"a{n}", staying), 20, f"round {n}: the others")
                for inst in leaving:
                    await watches.use(inst, secret[inst])
                await asyncio.to_thread(cluster.kubectl, "apply", "-f", "-", input=secrets_list(ns, f"b{n}"))
                await wait_for_async(functools.partial(settled, f"b{n}", instances), 20, f"round {n}: every watch")
        finally:
            await watches.stop()
            await client.aclose()

    asyncio.run(scenario())
