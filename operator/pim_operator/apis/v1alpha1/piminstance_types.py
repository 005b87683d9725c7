"""The PimInstance, typed once from its body: what builders, caches and checks read.

The API server applies the CRD defaults; repeating them here keeps the builders total over
objects that never went through it (unit tests, older stored objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pim_operator.apis.v1alpha1 import API_VERSION, INSTANCE_KIND
from pim_operator.apis.v1alpha1.meta import TypedObject

DEFAULT_PORT = 8000
DEFAULT_STORAGE_SIZE = "1Gi"
DEFAULT_SECRET_KEY = "uri"  # noqa: S105 (a key name, not a password)
SQLITE, POSTGRESQL = "SQLite", "PostgreSQL"
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}


@dataclass(frozen=True)
class Storage:
    persistent: bool = False
    size: str = DEFAULT_STORAGE_SIZE
    storage_class: str | None = None
    retain: bool = True


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the instance's namespace, holding a ``postgresql://`` URI."""

    name: str
    key: str = DEFAULT_SECRET_KEY


@dataclass(frozen=True)
class ManagedPostgres:
    """A CloudNativePG Cluster the operator creates for the instance."""

    instances: int = 1
    size: str = DEFAULT_STORAGE_SIZE
    storage_class: str | None = None
    retain: bool = True


@dataclass(frozen=True)
class Database:
    """``spec.database``: SQLite in the pod (the default), or a PostgreSQL server every replica shares.

    With PostgreSQL exactly one of ``secret_ref`` and ``managed`` is set (the CRD's rules say so).
    """

    type: str = SQLITE
    secret_ref: SecretRef | None = None
    managed: ManagedPostgres | None = None

    @property
    def postgres(self) -> bool:
        return self.type == POSTGRESQL

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Database:
        pg = spec.get("postgres") or {}
        ref, managed = pg.get("secretRef"), pg.get("managed")
        return cls(
            type=str(spec.get("type", SQLITE)),
            secret_ref=None if ref is None else SecretRef(str(ref["name"]), str(ref.get("key", DEFAULT_SECRET_KEY))),
            managed=None
            if managed is None
            else ManagedPostgres(
                instances=int(managed.get("instances", 1)),
                size=str(managed.get("size", DEFAULT_STORAGE_SIZE)),
                storage_class=managed.get("storageClassName") or None,
                retain=managed.get("reclaimPolicy", "Retain") == "Retain",
            ),
        )


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int = 1
    max_replicas: int = 1
    target_cpu: int = 80
    #: behavior.scaleDown.stabilizationWindowSeconds; None: the HPA's own default (300 s).
    scale_down_stabilization: int | None = None


@dataclass(frozen=True)
class MetricsSpec:
    scrape_annotations: bool = True
    service_monitor: bool = True
    interval: str = "30s"


AUTH_NONE, AUTH_KUBERNETES, AUTH_APIKEY = "None", "Kubernetes", "APIKey"


@dataclass(frozen=True)
class Access:
    """``spec.access``: the NetworkPolicy (on by default) and how the engine authenticates (not at all)."""

    network_policy: bool = True
    #: NetworkPolicyPeers admitted besides the own namespace, the operator and Prometheus.
    sources: tuple[Mapping[str, Any], ...] = ()
    auth: str = AUTH_NONE
    api_key_secret: str | None = None

    @property
    def reviews(self) -> bool:
        """Whether the engine asks the API server (TokenReviews, SubjectAccessReviews): in both auth
        modes, since /metrics takes the tokens of Prometheus and the operator in either."""
        return self.auth != AUTH_NONE

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Access:
        net = spec.get("networkPolicy") or {}
        auth = spec.get("auth") or {}
        return cls(
            network_policy=bool(net.get("enabled", True)),
            sources=tuple(net.get("from") or ()),
            auth=str(auth.get("mode") or AUTH_NONE),
            api_key_secret=(auth.get("apiKeySecretRef") or {}).get("name") or None,
        )


@dataclass(frozen=True)
class InstanceSpec:
    model: str
    replicas: int | None = None
    image: str | None = None
    image_pull_policy: str = "IfNotPresent"
    port: int = DEFAULT_PORT
    service_type: str = "ClusterIP"
    node_port: int | None = None
    resources: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_RESOURCES)
    env: tuple[tuple[str, str], ...] = ()
    log_level: str = "info"
    storage: Storage = Storage()
    database: Database = Database()
    autoscaling: Autoscaling | None = None
    suspend: bool = False
    metrics: MetricsSpec = MetricsSpec()
    access: Access = Access()
    allow_destructive_migration: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    priority_class: str | None = None

    @property
    def desired_replicas(self) -> int:
        """Pods the Deployment should ask for when no autoscaler owns the count."""
        if self.suspend:
            return 0
        return 1 if self.replicas is None else self.replicas

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> InstanceSpec:
        st = spec.get("storage") or {}
        auto = spec.get("autoscaling")
        met = spec.get("metrics") or {}
        return cls(
            model=str((spec.get("modelRef") or {}).get("name", "")),
            replicas=spec.get("replicas"),
            image=spec.get("image") or None,
            image_pull_policy=spec.get("imagePullPolicy", "IfNotPresent"),
            port=int(spec.get("port", DEFAULT_PORT)),
            service_type=spec.get("serviceType", "ClusterIP"),
            node_port=spec.get("nodePort"),
            resources=spec.get("resources") or DEFAULT_RESOURCES,
            env=tuple((e["name"], str(e.get("value", ""))) for e in spec.get("env") or ()),
            log_level=spec.get("logLevel", "info"),
            storage=Storage(
                persistent=st.get("type") == "Persistent",
                size=st.get("size", DEFAULT_STORAGE_SIZE),
                storage_class=st.get("storageClassName"),
                retain=st.get("reclaimPolicy", "Retain") == "Retain",
            ),
            database=Database.from_spec(spec.get("database") or {}),
            autoscaling=None
            if auto is None
            else Autoscaling(
                min_replicas=int(auto.get("minReplicas", 1)),
                max_replicas=int(auto["maxReplicas"]),
                target_cpu=int(auto.get("targetCPUUtilizationPercentage", 80)),
                scale_down_stabilization=None
                if auto.get("scaleDownStabilizationSeconds") is None
                else int(auto["scaleDownStabilizationSeconds"]),
            ),
            suspend=bool(spec.get("suspend", False)),
            metrics=MetricsSpec(
                scrape_annotations=bool(met.get("scrapeAnnotations", True)),
                service_monitor=bool(met.get("serviceMonitor", True)),
                interval=str(met.get("interval", "30s")),
            ),
            access=Access.from_spec(spec.get("access") or {}),
            allow_destructive_migration=bool(spec.get("allowDestructiveMigration", False)),
            node_selector=dict(spec.get("nodeSelector") or {}),
            tolerations=tuple(spec.get("tolerations") or ()),
            priority_class=spec.get("priorityClassName") or None,
        )


@dataclass(frozen=True, kw_only=True)
class PimInstance(TypedObject, api_version=API_VERSION, kind=INSTANCE_KIND):
    """A PimInstance as the operator sees it: metadata, the typed spec, and its current status."""

    spec: InstanceSpec

    @classmethod
    def typed_spec(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"spec": InstanceSpec.from_spec(body.get("spec") or {})}

    @property
    def model(self) -> str:
        """The PimModel it serves (``spec.modelRef.name``, same namespace)."""
        return self.spec.model

    @property
    def node_port(self) -> int | None:
        """The node port this instance claims: none unless its Service is exposed on nodes."""
        return None if self.spec.service_type == "ClusterIP" else self.spec.node_port

    @property
    def model_digest(self) -> str | None:
        """The digest of the snapshot it last reported serving (``status.modelDigest``)."""
        return self.status.get("modelDigest") or None

    def owner_reference(self) -> dict[str, Any]:
        """Makes the instance its children's controller: they go when it goes."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.meta.name,
            "uid": self.meta.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
