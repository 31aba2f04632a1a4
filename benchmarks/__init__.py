"""A one-command benchmark of pipper against the original pipper 0.11.1, uv from a static
index, and the physical bound.

``python -m benchmarks``, run from the repository root, starts a real S3 server on loopback
behind a proxy that adds a fixed latency, publishes synthetic dependency graphs, installs the
original pipper into its own venv, runs every tool on the same buckets, and prints (and writes
as JSON and markdown) the ratios and each target beside what was measured. ``--compare``
sets a run beside a saved earlier one. ``benchmarks.runner`` says where each part lives.
"""
