"""Health and metrics of an instance's replicas, summarized into its status."""
