"""The test suites, and the harness they share with the benchmarks (``tests.support``).

A package, so that ``tests.support`` is importable from the repository root by tests (pytest puts
the root on ``sys.path``) and by benchmarks run as modules (``python -m bench.operator_bench``).
"""
