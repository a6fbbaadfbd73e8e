"""/metrics across a process's workers: prometheus-client's multiprocess mode.

With `PROMETHEUS_MULTIPROC_DIR` set (ops/run.py sets it per process, one folder each), every
worker writes what its collectors hold (shared/observability.py: requests, latency, errors, pool
use) into that folder, in prometheus-client's own multiprocess files, once a second and before it
answers a scrape; whichever worker a scrape reaches answers the sum over all of them, read by
prometheus-client's MultiProcessCollector. The series are the same as one process's: counters and
histograms add up, the pool gauges add up over the workers still alive.

The collectors keep counting in plain lists on the request path (under 1 us a request); writing
them out costs one pass over the series a second, whatever the request rate. A worker that dies
leaves its counters' file behind (its requests stay counted); its gauges' file is ignored once
its process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
from collections import defaultdict

from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("haolin.metrics")

ENV = "PROMETHEUS_MULTIPROC_DIR"
WRITE_EVERY_S = 1.0
# prometheus-client's multiprocess file of each family type; gauges summed over live processes.
_FILE = {"counter": "counter", "histogram": "histogram", "gauge": "gauge_livesum"}


def folder() -> str | None:
    path = os.environ.get(ENV)
    return path if path and os.path.isdir(path) else None


class WorkerFiles:
    """This worker's metrics, written to its files in `path`."""

    def __init__(self, path: str, collectors: list[Collector]) -> None:
        self.path = path
        self.collectors = collectors
        self._files: dict[str, MmapedDict] = {}
        self._pid: int | None = None

    def _file(self, kind: str) -> MmapedDict:
        pid = os.getpid()
        if pid != self._pid:  # a forked child writes its own files, not its parent's
            self._files, self._pid = {}, pid
        found = self._files.get(kind)
        if found is None:
            found = self._files[kind] = MmapedDict(os.path.join(self.path, f"{_FILE[kind]}_{pid}.db"))
        return found

    def write(self) -> None:
        for collector in self.collectors:
            for family in collector.collect():
                if family.type not in _FILE:
                    continue
                out = self._file(family.type)
                if family.type == "histogram":
                    self._write_histogram(out, family)
                    continue
                for sample in family.samples:
                    out.write_value(_key(family, sample.name, sample.labels), sample.value, 0.0)

    @staticmethod
    def _write_histogram(out: MmapedDict, family) -> None:
        # The files hold each bucket's own count (the collector adds them up again) and the sum; the
        # count is the +Inf bucket, made by the collector.
        cumulative: dict[tuple, list[tuple[float, dict, float]]] = defaultdict(list)
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                rest = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                cumulative[rest].append((float(sample.labels["le"]), sample.labels, sample.value))
            elif sample.name.endswith("_sum"):
                out.write_value(_key(family, sample.name, sample.labels), sample.value, 0.0)
        for buckets in cumulative.values():
            below = 0.0
            for _, labels, value in sorted(buckets, key=lambda b: b[0]):
                out.write_value(_key(family, family.name + "_bucket", labels), value - below, 0.0)
                below = value

    def close(self) -> None:
        """At the worker's end: its last counts written, its gauges gone (it holds no connection now)."""
        with contextlib.suppress(Exception):
            self.write()
        for kind, file in self._files.items():
            file.close()
            if kind == "gauge":
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.path, f"{_FILE[kind]}_{self._pid}.db"))
        self._files = {}

    async def keep_writing(self) -> None:
        while True:
            await asyncio.sleep(WRITE_EVERY_S)
            try:
                self.write()
            except Exception as exc:  # a full disk must not stop the worker; the scrape will show stale figures
                log.warning("writing this worker's metrics failed: %s", type(exc).__name__)


def _key(family, name: str, labels: dict) -> str:
    names = sorted(labels)
    return mmap_key(family.name, name, names, [labels[n] for n in names], family.documentation)


class LiveWorkersCollector(MultiProcessCollector):
    """MultiProcessCollector over the files of every worker, leaving out the gauges of workers
    that are gone (killed outright, they could not remove their own)."""

    def __init__(self, path: str) -> None:
        super().__init__(None, path)
        self.path = path

    def collect(self):
        files = [f for f in glob.glob(os.path.join(self.path, "*.db")) if _alive_or_counter(f)]
        return self.merge(files, accumulate=True)


def _alive_or_counter(file: str) -> bool:
    name = os.path.basename(file)
    if not name.startswith("gauge_"):
        return True
    try:
        os.kill(int(name.rsplit("_", 1)[1][:-3]), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True


def workers_registry(path: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LiveWorkersCollector(path))
    return registry
