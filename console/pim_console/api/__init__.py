"""HTTP layers over the running console: the v2 API (``v2``) and the web UI's data (``ui``)."""
