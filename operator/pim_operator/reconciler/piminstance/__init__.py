"""Reconcile a PimInstance into its ConfigMap, Deployment, Service, PVC, HPA and ServiceMonitor."""
