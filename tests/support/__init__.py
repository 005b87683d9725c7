"""Helpers shared by the cluster and e2e suites (on sys.path through pytest's ``pythonpath``)."""
