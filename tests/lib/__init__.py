"""The test harness: S3 server starters, the fault proxy, the wheel writer, the CLI runner.

Kept free of pytest fixtures (those live in ``tests/conftest.py``) so that the benchmark runner
can import the same servers, proxy and bundles the test suite uses.
"""
