"""/metrics under several workers (shared/multiprocess.py): the same series as one process, with
every worker's counts added up."""

from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.multiprocess import WorkerFiles, workers_registry
from shared.observability import HttpMetrics

# Durations that are exact binary fractions: sums in any order give the same float.
REQUESTS = [("/v1/cases/{case_id}", "GET", 200, 0.00390625), ("/v1/cases/{case_id}", "GET", 200, 0.25),
            ("/v1/cases/{case_id}", "GET", 404, 0.0078125), ("/v1/cases", "POST", 500, 3.0),
            ("/v1/cases", "POST", 201, 0.015625)]


def exposition(registry: CollectorRegistry) -> list[str]:
    return sorted(generate_latest(registry).decode().splitlines())


class Pools(Collector):
    def __init__(self, value: int) -> None:
        self.value = value

    def collect(self):
        gauge = GaugeMetricFamily("haolin_db_pool_open", "Connections open", labels=["pool"])
        gauge.add_metric(["engine"], self.value)
        return [gauge]


class TestOneWorker:
    def test_the_files_show_what_the_process_counted(self, tmp_path):
        metrics = HttpMetrics()
        for request in REQUESTS:
            metrics.observe(*request)
        alone = CollectorRegistry()
        alone.register(metrics)
        WorkerFiles(str(tmp_path), [metrics]).write()
        assert exposition(workers_registry(str(tmp_path))) == exposition(alone)


class TestTwoWorkers:
    def test_counts_and_histograms_add_up(self, tmp_path):
        # Each request once in one of two workers, and all of them in one process: the same scrape.
        one, two, both = HttpMetrics(), HttpMetrics(), HttpMetrics()
        for i, request in enumerate(REQUESTS * 3):
            (one if i % 2 else two).observe(*request)
            both.observe(*request)
        alone = CollectorRegistry()
        alone.register(both)
        # Another pid for the second worker: a child process writes it.
        WorkerFiles(str(tmp_path), [one]).write()
        script = ("import sys; from shared.observability import HttpMetrics; from shared.multiprocess import WorkerFiles\n"
                  f"m = HttpMetrics()\nfor r in {[r for i, r in enumerate(REQUESTS * 3) if not i % 2]!r}: m.observe(*r)\n"
                  "WorkerFiles(sys.argv[1], [m]).write()")
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=os.getcwd())
        assert len(list(tmp_path.glob("counter_*.db"))) == 2
        assert exposition(workers_registry(str(tmp_path))) == exposition(alone)

    def test_the_gauges_of_a_gone_worker_are_left_out_and_a_stopped_one_removes_its_own(self, tmp_path):
        mine = WorkerFiles(str(tmp_path), [Pools(3)])
        mine.write()
        script = ("import sys; from tests.shared.test_multiprocess_metrics import Pools\n"
                  "from shared.multiprocess import WorkerFiles\nWorkerFiles(sys.argv[1], [Pools(5)]).write()")
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=os.getcwd())
        assert len(list(tmp_path.glob("gauge_livesum_*.db"))) == 2
        # The child has exited without removing its file (as a killed worker would): only ours counts.
        assert 'haolin_db_pool_open{pool="engine"} 3.0' in exposition(workers_registry(str(tmp_path)))
        mine.close()
        assert [p.name for p in tmp_path.glob("gauge_livesum_*.db")] != [f"gauge_livesum_{os.getpid()}.db"]
        assert not (tmp_path / f"gauge_livesum_{os.getpid()}.db").exists()
