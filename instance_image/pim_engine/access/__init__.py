"""Who may call an instance: every request but the kubelet's probes shows a credential.

``none`` (the default) installs nothing: no middleware, no cost per request. ``kubernetes``: a
bearer token, which a TokenReview authenticates and a SubjectAccessReview authorizes against the
instance's own PimInstance (``get`` to read, ``update`` to write). ``apikey``: one of the keys of
a mounted Secret. ``/metrics`` takes a Kubernetes token with ``get`` on ``piminstances/metrics``
in both modes (and an API key in ``apikey`` mode), so Prometheus and the operator scrape with
their ServiceAccounts' tokens and never hold an API key.
"""
