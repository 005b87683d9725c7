"""Pure builders: ``make_x(instance, ...)`` returns the desired child object as a dict.

Each takes the typed :class:`~pim_operator.apis.v1alpha1.piminstance_types.PimInstance` (as
Knative's ``MakeDeployment(rev, cfg)`` takes the Revision) plus what the reconcile decided.

They read nothing but their arguments, so they are unit-tested without a cluster, and the
handler only has to apply what they return.
"""
