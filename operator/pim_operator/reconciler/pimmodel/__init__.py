"""Reconcile a PimModel: validate it with the engine's loader and report the result in status."""
