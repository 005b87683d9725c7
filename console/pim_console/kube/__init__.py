"""The console's way to the API server: credentials from the ``kubernetes`` package, HTTP by HTTPX."""
