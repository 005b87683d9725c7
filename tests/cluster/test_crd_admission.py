"""Bad PimModels and PimInstances are rejected by the real API server, with a message saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.pim import pim_instance

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ns(crds):
    return crds.namespace("pim-admission")


def create(cluster, obj):
    return cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(obj), check=False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"storage": {"type": "Persistent"}, "replicas": 2}, "persistent storage is one SQLite file"),
        ({"storage": {"type": "Persistent"}, "autoscaling": {"maxReplicas": 3}}, "cannot be autoscaled"),
        ({"replicas": 2, "autoscaling": {"maxReplicas": 3}}, "mutually exclusive"),
        ({"serviceType": "NodePort", "nodePort": 80}, "should be greater than or equal to 30000"),
        ({"serviceType": "NodePort", "nodePort": 40000}, "should be less than or equal to 32767"),
        ({"nodePort": 30001}, "spec.nodePort needs spec.serviceType NodePort or LoadBalancer"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas must not exceed"),
        ({"storage": {"type": "Ephemeral", "size": "1Gi"}}, "apply only to storage.type Persistent"),
        ({"env": [{"name": "PIM_DB", "value": "/x"}]}, "PIM_* variables are set by the operator"),
        ({"replicas": -1}, "should be greater than or equal to 0"),
        ({"serviceType": "Ingress"}, 'supported values: "ClusterIP", "NodePort", "LoadBalancer"'),
        ({"storage": {"type": "Persistent", "size": "lots"}}, "spec.storage.size"),
    ],
)
def test_bad_instance_is_rejected_with_a_reason(crds, ns, spec, message):
    res = create(crds, pim_instance(ns, "bad", "m", **spec))
    assert res.returncode != 0
    assert message in res.stderr, res.stderr


def test_bad_names_and_missing_model_ref(crds, ns):
    res = create(crds, pim_instance(ns, "9lives", "m"))
    assert "must be a DNS-1035 label" in res.stderr
    obj = pim_instance(ns, "nomodel", "m")
    del obj["spec"]["modelRef"]
    assert "spec.modelRef: Required value" in create(crds, obj).stderr


def test_a_good_instance_is_accepted_with_defaults(crds, ns):
    res = crds.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pim_instance(ns, "good", "m"))
    )
    spec = json.loads(res.stdout)["spec"]
    assert (spec["port"], spec["serviceType"], spec["suspend"], spec["imagePullPolicy"]) == (
        8000,
        "ClusterIP",
        False,
        "IfNotPresent",
    )
    assert "replicas" not in spec  # left unset so that autoscaling stays possible


def test_storage_class_is_immutable(crds, ns):
    obj = pim_instance(ns, "sc", "m", storage={"type": "Persistent", "storageClassName": "fast"})
    crds.kubectl("create", "-f", "-", input=json.dumps(obj))
    res = crds.kubectl(
        "patch",
        "pi",
        "sc",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"storageClassName":"slow"}}}',
        check=False,
    )
    assert "storageClassName is immutable" in res.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"source": "x", "configMapRef": {"name": "a", "key": "b"}},
            "exactly one of spec.source or spec.configMapRef",
        ),
        ({}, "exactly one of spec.source or spec.configMapRef"),
        ({"source": "x", "format": "toml"}, 'supported values: "yaml", "markdown", "json"'),
    ],
)
def test_bad_model_is_rejected(crds, ns, spec, message):
    obj = {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": "m", "namespace": ns},
        "spec": spec,
    }
    res = create(crds, obj)
    assert message in res.stderr, res.stderr


def test_explain_is_useful(crds):
    out = crds.kubectl("explain", "piminstance.spec.storage").stdout
    assert "Ephemeral (an emptyDir" in out
    assert "reclaimPolicy" in out


def test_examples_are_accepted(crds, ns):
    for path in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")):
        crds.kubectl("apply", "--dry-run=server", "-n", ns, "-f", str(path))
