"""Reconcilers, one package per kind: pure builders in ``resources``, thin handlers beside them."""
