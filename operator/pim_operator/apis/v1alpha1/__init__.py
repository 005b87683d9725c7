"""pim.dev/v1alpha1: PimModel and PimInstance."""

GROUP = "pim.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MODEL_KIND = "PimModel"
MODEL_PLURAL = "pimmodels"
INSTANCE_KIND = "PimInstance"
INSTANCE_PLURAL = "piminstances"
