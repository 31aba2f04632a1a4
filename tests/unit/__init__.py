"""The fast tier: no server, no subprocess pip; runs in seconds with ``pytest tests/unit``."""
