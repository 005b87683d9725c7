"""pim.dev/v1alpha1: PimModel and PimInstance.

``<kind>_types`` holds each kind typed from its body, ``<kind>_lifecycle`` its condition set
(named reasons, ``mark_…``/``propagate_…`` helpers), ``labels`` the label keys and annotations the
operator puts on children. Nothing here imports from the rest of the operator.
"""

GROUP = "pim.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MODEL_KIND = "PimModel"
MODEL_PLURAL = "pimmodels"
INSTANCE_KIND = "PimInstance"
INSTANCE_PLURAL = "piminstances"
