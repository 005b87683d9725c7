"""What the operator and the console share to talk to Kubernetes: credentials, loaded by the
``kubernetes`` package. It imports neither of them (pyproject's import-linter contracts)."""
