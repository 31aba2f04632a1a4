"""One module per scenario; each is ``run(bench)`` and leaves its numbers in ``bench.results``.

``SETUP`` always runs first (the bound needs start-up and throughput); ``SCENARIOS`` are the
ones ``--only`` can pick, in the order a run does them (``benchmarks.settings.SCENARIOS``).
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.bench import Bench
from benchmarks.scenarios import (
    crowded,
    download,
    index,
    install,
    memory,
    probe,
    public,
    scaling,
    startup,
    throughput,
)

Scenario = Callable[[Bench], None]

SETUP: dict[str, Scenario] = {"startup": startup.run, "throughput": throughput.run}

SCENARIOS: dict[str, Scenario] = {
    "download": download.run,
    "probe": probe.run,
    "install": install.run,
    "public": public.run,
    "index": index.run,
    "memory": memory.run,
    "scaling": scaling.run,
    "crowded": crowded.run,
}
