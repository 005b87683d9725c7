"""The pim.dev API types, one package per version."""
