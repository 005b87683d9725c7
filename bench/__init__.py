"""Benchmarks. Run each as a module from the repository root, e.g. ``.venv/bin/python -m
bench.operator_bench``: the root is then on ``sys.path``, so the harness the tests use
(``tests.support``) imports like any package. Results go to BENCHMARKS.md."""
