"""Whether the access controls an instance asks for are in place: the AccessReady decision, free of I/O.

The reconcile gathers the facts (who the operator trusts, the API-key Secret's entries, whether the
engine's ClusterRoleBinding could be applied) and this module words them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import Condition
from pim_operator.apis.v1alpha1.piminstance_types import AUTH_APIKEY, AUTH_KUBERNETES, AUTH_NONE, PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.networkpolicy import admitted


def condition(
    instance: PimInstance,
    trusted: Mapping[str, Mapping[str, Any]],
    *,
    api_keys: Collection[str] | None = (),
    delegation_error: object | None = None,
    secret_error: object | None = None,
) -> Condition:
    """``api_keys``: the entries of the API-key Secret (None: it does not exist); ``delegation_error``:
    why the engine's ClusterRoleBinding could not be applied, if it could not; ``secret_error``: why
    the operator could not read the Secret, if it could not."""
    access = instance.spec.access
    if delegation_error is not None:
        return lifecycle.mark_auth_delegation_forbidden(
            names.auth_delegator(instance.namespace, instance.name), delegation_error
        )
    secret = access.api_key_secret or ""
    if access.auth == AUTH_APIKEY:
        if secret_error is not None:
            return lifecycle.mark_api_key_secret_forbidden(secret, secret_error)
        if api_keys is None:
            return lifecycle.mark_api_key_secret_not_found(secret)
        if not api_keys:
            return lifecycle.mark_no_api_keys(secret)
    if not access.network_policy and access.auth == AUTH_NONE:
        return lifecycle.mark_access_open()
    network = admitted(instance, trusted) if access.network_policy else None
    if access.auth == AUTH_KUBERNETES:
        auth = f"auth Kubernetes: reads need get, writes update on piminstances {instance.name}"
    elif access.auth == AUTH_APIKEY:
        n = len(api_keys or ())
        auth = f"auth APIKey: {n} key{'' if n == 1 else 's'} in Secret {secret}"
    else:
        auth = "no auth: whoever the network admits may read and write"
    return lifecycle.mark_access_restricted(network, auth)
