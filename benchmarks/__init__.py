"""A one-command benchmark of pipper against the original pipper 0.11.1 and the physical bound.

``python -m benchmarks`` starts a real S3 server on loopback behind a proxy that adds a fixed
latency, publishes a synthetic dependency graph, installs the original pipper into its own venv,
runs both tools on the same bucket, and prints (and writes as JSON and markdown) the ratios.
"""
