"""The physical bound of a run: the least time any client could take on this machine and wire.

The bound of a cold download is ``levels x 2 round trips x latency + bytes / throughput``:
each level of the graph needs one LIST (which versions exist) and one GET whose response
headers carry the dependencies, so the next level can start while bodies still stream. The
throughput is measured with one large GET through the same proxy. The interpreter's start-up
(``python -c pass``) is added, since a user waits for it too.

Every scenario that reports "x bound" takes it from here, so the formula exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROUND_TRIPS_PER_LEVEL = 2


@dataclass(frozen=True)
class Bound:
    latency_s: float
    bytes_per_s: float
    interpreter_s: float

    @classmethod
    def from_results(cls, results: dict[str, Any], latency_ms: float) -> Bound:
        """From the start-up and throughput steps of this run (both always run first)."""
        return cls(
            latency_s=latency_ms / 1000,
            bytes_per_s=float(results["throughput"]["proxy_bytes_per_s"]),
            interpreter_s=float(results["startup"]["python -c pass"]),
        )

    def network(self, levels: int) -> float:
        return levels * ROUND_TRIPS_PER_LEVEL * self.latency_s

    def transfer(self, nbytes: int) -> float:
        return nbytes / self.bytes_per_s

    def cold(self, levels: int, nbytes: int) -> float:
        return self.network(levels) + self.transfer(nbytes) + self.interpreter_s

    def cold_zero_latency(self, nbytes: int) -> float:
        return self.transfer(nbytes) + self.interpreter_s

    def warm(self, round_trips: int) -> float:
        """A warm run must still learn which versions exist: a LIST per round trip."""
        return round_trips * self.latency_s + self.interpreter_s

    def offline(self) -> float:
        return self.interpreter_s

    def cold_with_lists(self, lists: int, levels: int, nbytes: int) -> float:
        """Cold, for a client that answers every level from ``lists`` listings up front: one
        round trip per listing plus one GET round trip per level."""
        return (lists + levels) * self.latency_s + self.transfer(nbytes) + self.interpreter_s
