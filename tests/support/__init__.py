"""The harness shared by the test suites and the benchmarks: one of each.

- ``net``: free ports (outside the kernel's ephemeral range)
- ``kubectl``: the kubectl wrapper
- ``cluster``: ``cluster.env`` parsing, the ``Cluster`` a test or benchmark talks to, and the local
  cluster's bring-up and teardown (``hack/cluster/up.sh`` / ``down.sh``) and component restarts
- ``waiting``: polling with a deadline
- ``operator_proc``, ``helm``, ``pim``, ``upstream``: the operator as a process, helm, pim.dev
  objects, the upstream model corpus
- ``fixtures``: the pytest fixtures built on them (a plugin of tests/conftest.py)

Imported as ``tests.support.<module>`` from the repository root; see ``bench/__init__.py``.
"""
