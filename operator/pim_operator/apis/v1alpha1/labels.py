"""Label keys and annotation names the operator puts on what it creates: the API's vocabulary.

Builders, watches and caches all read them from here, so they cannot disagree.
"""

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MODEL_LABEL = "pim.dev/model"
#: On cluster-scoped children (the engine's ClusterRoleBinding): the instance's namespace.
INSTANCE_NAMESPACE_LABEL = "pim.dev/instance-namespace"

#: Values of the labels above that are the same on every child.
APP_NAME = "pim-engine"
MANAGED_BY = "pim-operator"
PART_OF = "pim"

#: Pod-template annotations: digests whose change rolls the pods.
MODEL_DIGEST_ANNOTATION = "pim.dev/model-digest"
CONFIG_DIGEST_ANNOTATION = "pim.dev/config-digest"
#: A keyed digest of the database URI (never the URI): a rotated password rolls the pods.
DATABASE_DIGEST_ANNOTATION = "pim.dev/database-digest"
