"""Pure builders of a PimInstance's children: no cluster, just the dicts they return."""

from __future__ import annotations

import copy

import pytest

from pim_operator.apis.v1alpha1.labels import CONFIG_DIGEST_ANNOTATION, MODEL_DIGEST_ANNOTATION
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.configmap import config_digest, make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.hpa import make_hpa
from pim_operator.reconciler.piminstance.resources.pvc import make_pvc
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.piminstance.resources.servicemonitor import make_servicemonitor

pytestmark = pytest.mark.unit


def instance(**spec: object) -> dict:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": "shop", "namespace": "team-a", "uid": "u-1", "generation": 3},
        "spec": {"modelRef": {"name": "orders"}, **spec},
    }


def typed(inst: dict) -> PimInstance:
    return PimInstance.from_body(inst)


def deployment_for(inst: dict, **kw: str) -> dict:
    return make_deployment(
        typed(inst),
        image=kw.get("image", "engine:1"),
        model_digest=kw.get("digest", "sha256:aa"),
        config_digest=kw.get("config", "sha256:cc"),
    )


def test_every_child_is_owned_labelled_and_namespaced():
    inst = instance(storage={"type": "Persistent", "reclaimPolicy": "Delete"}, autoscaling=None)
    children = [
        make_configmap(typed(inst), "{}"),
        deployment_for(inst),
        make_service(typed(inst)),
        make_pvc(typed(inst)),
        make_servicemonitor(typed(inst)),
    ]
    for child in children:
        meta = child["metadata"]
        assert meta["namespace"] == "team-a"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "pim.dev/v1alpha1",
                "kind": "PimInstance",
                "name": "shop",
                "uid": "u-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"] == {
            "app.kubernetes.io/name": "pim-engine",
            "app.kubernetes.io/instance": "shop",
            "app.kubernetes.io/managed-by": "pim-operator",
            "app.kubernetes.io/part-of": "pim",
            "pim.dev/model": "orders",
        }
    assert len({(c["kind"], c["metadata"]["name"]) for c in children}) == len(children)


def test_retained_pvc_has_no_owner_so_it_outlives_the_instance():
    inst = instance(storage={"type": "Persistent", "size": "5Gi", "storageClassName": "fast"})
    pvc = make_pvc(typed(inst))
    assert "ownerReferences" not in pvc["metadata"]
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast",
    }


def test_deployment_pod_is_restricted():
    dep = deployment_for(instance())
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    # every writable path is a volume, since the root filesystem is read-only
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts == {"/etc/pim/model": "model", "/data": "data", "/tmp": "tmp"}


def test_deployment_probes_and_engine_env():
    dep = deployment_for(instance(port=9000, logLevel="debug", env=[{"name": "TZ", "value": "UTC"}]))
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["PIM_PORT"] == "9000"
    assert env["PIM_LOG_LEVEL"] == "debug"
    assert env["PIM_MODEL"] == "/etc/pim/model/model.json"
    assert env["PIM_ALLOW_DESTRUCTIVE_MIGRATION"] == "false"
    assert env["TZ"] == "UTC"


@pytest.mark.parametrize("change", ["image", "digest", "config"])
def test_any_input_change_changes_the_pod_template(change):
    inst = instance()
    before = deployment_for(inst)["spec"]["template"]
    after = deployment_for(inst, **{change: "other"})["spec"]["template"]
    assert before != after


def test_digests_are_pod_annotations():
    dep = deployment_for(instance(), digest="sha256:m1", config="sha256:c1")
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann[MODEL_DIGEST_ANNOTATION] == "sha256:m1"
    assert ann[CONFIG_DIGEST_ANNOTATION] == "sha256:c1"
    assert ann["prometheus.io/scrape"] == "true"


def test_scrape_annotations_can_be_turned_off():
    dep = deployment_for(instance(metrics={"scrapeAnnotations": False}))
    assert "prometheus.io/scrape" not in dep["spec"]["template"]["metadata"]["annotations"]


def test_replicas_suspend_and_autoscaling():
    assert deployment_for(instance())["spec"]["replicas"] == 1
    assert deployment_for(instance(replicas=3))["spec"]["replicas"] == 3
    assert deployment_for(instance(replicas=3, suspend=True))["spec"]["replicas"] == 0
    # the HPA owns the count: the operator must not set it
    assert "replicas" not in deployment_for(instance(autoscaling={"maxReplicas": 4}))["spec"]


def test_persistent_storage_uses_the_claim_and_recreate():
    dep = deployment_for(instance(storage={"type": "Persistent"}))
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "shop-data"}}
    eph = deployment_for(instance())
    assert eph["spec"]["strategy"]["type"] == "RollingUpdate"
    assert {v["name"]: v for v in eph["spec"]["template"]["spec"]["volumes"]}["data"] == {
        "name": "data",
        "emptyDir": {},
    }


def test_selector_is_stable_across_model_changes():
    a = deployment_for(instance())
    inst = instance()
    inst["spec"]["modelRef"]["name"] = "other"
    b = deployment_for(inst)
    assert a["spec"]["selector"] == b["spec"]["selector"]
    assert a["spec"]["template"]["metadata"]["labels"]["pim.dev/model"] == "orders"
    assert b["spec"]["template"]["metadata"]["labels"]["pim.dev/model"] == "other"


def test_service_types_and_node_port():
    inst = instance(serviceType="NodePort", nodePort=30080, port=8080)
    svc = make_service(typed(inst))
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP", "nodePort": 30080}
    ]
    assert svc["spec"]["selector"] == names.selector_labels("shop")
    plain = make_service(typed(instance()))
    assert "nodePort" not in plain["spec"]["ports"][0]


def test_hpa_targets_the_deployment():
    inst = instance(autoscaling={"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60})
    hpa = make_hpa(typed(inst))
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert "behavior" not in hpa["spec"]  # the HPA's own default window
    quick = {"minReplicas": 1, "maxReplicas": 3, "scaleDownStabilizationSeconds": 0}
    hpa = make_hpa(typed(instance(autoscaling=quick)))
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 0}}
    with pytest.raises(ValueError, match="autoscaling"):
        make_hpa(typed(instance()))


def test_config_digest_follows_the_data():
    inst = instance()
    a = make_configmap(typed(inst), '{"digest":"1"}')
    b = copy.deepcopy(a)
    assert config_digest(a) == config_digest(b)
    b["data"]["model.json"] = '{"digest":"2"}'
    assert config_digest(a) != config_digest(b)


def test_builders_do_not_mutate_their_input():
    inst = instance(storage={"type": "Persistent"}, autoscaling={"maxReplicas": 2})
    frozen = copy.deepcopy(inst)
    deployment_for(inst)
    make_service(typed(inst))
    make_pvc(typed(inst))
    make_hpa(typed(inst))
    assert inst == frozen


def test_scheduling_fields_reach_the_pod():
    tol = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
    inst = instance(nodeSelector={"type": "kwok"}, tolerations=[tol], priorityClassName="high")
    pod = deployment_for(inst)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"type": "kwok"}
    assert pod["tolerations"] == [tol]
    assert pod["priorityClassName"] == "high"
    plain = deployment_for(instance())["spec"]["template"]["spec"]
    assert "nodeSelector" not in plain
    assert "tolerations" not in plain
