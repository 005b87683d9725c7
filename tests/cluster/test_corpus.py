"""The bad-input corpus: invalid PimModels and PimInstances, each refused by the API server or
marked by the operator with a condition naming the culprit, with nothing created for it.

Each file in ``corpus/`` is a YAML stream: a header (``why``, ``expect``, optionally ``generate``),
then the objects to apply in order, the last one being the culprit (the ones before it are valid
setup: a model, a holder of a port). ``expect`` is either ``refused: <text kubectl's error must
contain>`` or ``condition: {type, status, reason, message}`` (message: a substring) on the culprit.
``generate`` fills a field with text too large to keep in the repository: ``repeat`` a line up to
``length`` characters, or a model of ``entities`` x ``attributes``.

Every case runs in its own namespace against the session's operator, which must still be running,
never restarted, at the end. Setup instances are Ready before the culprit comes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.pim import MANAGED, condition, scratch_namespace, wait_condition
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster
CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.yaml"))
CHILDREN = ("deployments", "services", "configmaps", "persistentvolumeclaims", "horizontalpodautoscalers")
SHORT_NAMES = {"PimModel": "pm", "PimInstance": "pi"}


def generated(spec: dict[str, Any]) -> str:
    if "repeat" in spec:
        line = spec["repeat"]
        return (line * (spec["length"] // len(line) + 1))[: spec["length"]]
    lines = ["domain: generated", "entities:"]
    for e in range(spec["entities"]):
        lines += [f"  - name: Entity{e}", "    attributes:"]
        lines += [f"      field_{a}: {{type: string, max_length: 100}}" for a in range(spec["attributes"])]
    return "\n".join(lines) + "\n"


def load_case(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *objects = yaml.safe_load_all(path.read_text())
    assert objects, f"{path.name}: no objects"
    gen = header.get("generate")
    if gen:
        target = objects[gen.get("object", -1)]
        *parents, leaf = gen["field"]
        for key in parents:
            target = target[key]
        target[leaf] = generated(gen)
    return header, objects


def test_the_corpus_is_large_and_every_case_says_what_to_expect():
    assert len(CORPUS) >= 50
    for path in CORPUS:
        header, objects = load_case(path)
        assert header.get("why"), path.name
        assert set(header["expect"]) in ({"refused"}, {"condition"}), path.name
        assert objects[-1]["kind"] in SHORT_NAMES or header["expect"].get("refused"), path.name


@pytest.fixture(scope="module")
def session_operator(operator):
    """The operator all cases run against, and where its log stood before them."""
    return operator, operator.starts, operator.log_path.stat().st_size


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_input_is_refused_or_named_and_nothing_is_made_for_it(cluster, session_operator, path):
    header, objects = load_case(path)
    with scratch_namespace(cluster, "corpus") as ns:
        check_case(cluster, path.name, header["expect"], objects, ns)


def check_case(cluster, case: str, expect: dict[str, Any], objects: list[dict[str, Any]], ns: str) -> None:
    for obj in objects[:-1]:
        cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(obj))
    for obj in objects[:-1]:  # the setup settles first: a holder of a port holds it
        if obj["kind"] == "PimInstance":
            wait_condition(cluster, "pi", ns, obj["metadata"]["name"], "ResourcesReady", "True", timeout=120)
    culprit = objects[-1]
    kind, name = culprit["kind"], culprit["metadata"]["name"]
    before = cluster.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
    # create, or replace what the setup made (kubectl apply would copy a large object into an annotation)
    verb = "replace" if before.returncode == 0 else "create"
    applied = cluster.kubectl(verb, "-n", ns, "-f", "-", input=json.dumps(culprit), check=False, timeout=120)

    if "refused" in expect:
        assert applied.returncode != 0, f"{case}: accepted:\n{applied.stdout}"
        assert expect["refused"] in applied.stderr, applied.stderr
        after = cluster.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        if before.returncode == 0:  # an update refused: the spec is as it was (status moves on)
            was, now = json.loads(before.stdout), json.loads(after.stdout)
            assert (now["spec"], now["metadata"]["generation"]) == (was["spec"], was["metadata"]["generation"])
        else:
            assert after.returncode != 0, f"{case}: the refused object exists"
    else:
        assert applied.returncode == 0, applied.stderr
        want = expect["condition"]
        short = SHORT_NAMES[kind]

        def named() -> dict[str, Any] | None:
            c = condition(cluster, short, ns, name, want["type"])
            ok = (
                c and (c["status"], c["reason"]) == (want["status"], want["reason"]) and want["message"] in c["message"]
            )
            return c if ok else None

        try:
            wait_for(named, 120, f"{kind} {name}: {want['type']}={want['status']} {want['reason']}")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nconditions now: {condition(cluster, short, ns, name, want['type'])}"
            ) from None
    # Nothing was made for the culprit (an instance's children are labelled with its name); a refused
    # update leaves what the valid version made as it was (its spec, checked above).
    if kind == "PimInstance" and before.returncode != 0:
        selector = f"{MANAGED},app.kubernetes.io/instance={name}"
        made = [
            f"{k}/{o['metadata']['name']}" for k in CHILDREN for o in cluster.get(k, "-n", ns, "-l", selector)["items"]
        ]
        assert made == [], f"{case}: children were made for the culprit"
    if kind == "PimModel":  # instances of it (none here) aside, it makes nothing: no ConfigMap appears
        assert not cluster.get("configmaps", "-n", ns, "-l", MANAGED)["items"]


def test_the_operator_survived_the_corpus(session_operator):
    operator, starts, log_offset = session_operator
    assert operator.alive(), operator.log_tail()
    assert operator.starts == starts, "the operator was restarted during the corpus"
    with operator.log_path.open("rb") as log:
        log.seek(log_offset)
        tail = log.read().decode(errors="replace")
    assert "Traceback" not in tail, tail[-4000:]
