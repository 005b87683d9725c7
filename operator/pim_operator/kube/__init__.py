"""A small async Kubernetes client: server-side apply, reads, status patches and Events."""
