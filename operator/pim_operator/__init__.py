"""pim_operator: reconcile PimModel and PimInstance resources into running engine workloads."""
