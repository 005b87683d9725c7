"""pim-console: the PIM engine v2 master controller API and a web UI, on the custom resources.

Kubernetes stays the source of truth: the console keeps no state of its own beyond a watch cache
and a short metrics history; every model and instance it shows or changes is a PimModel or a
PimInstance in its namespace.
"""

__version__ = "0.1.0"
