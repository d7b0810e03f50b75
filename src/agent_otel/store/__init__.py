"""The local store: OTLP JSON lines files on the user's own disk.

With no OTLP endpoint configured, agent-otel writes telemetry here, and its CLI reads it back.
The format is the one the OpenTelemetry Collector's ``file`` exporter writes and its
``otlpjsonfile`` receiver reads (one ``Export*ServiceRequest`` per line), so a store can later
be replayed into any backend through a Collector, and the CLI can read a Collector's output.

Layout of a store directory: ``traces.jsonl`` and ``metrics.jsonl`` are appended to; when one
exceeds its size limit it is renamed to ``traces.<UTC timestamp>-<pid>.jsonl`` and the oldest
rotated files beyond the file limit are deleted. Files are private to the user (0600 in a
0700 directory) because spans may hold prompts, file paths and commands.
"""

from __future__ import annotations

from agent_otel.store.exporters import StoreMetricExporter, StoreSpanExporter
from agent_otel.store.paths import default_store_dir
from agent_otel.store.reader import read_spans, store_files

__all__ = [
    "StoreMetricExporter",
    "StoreSpanExporter",
    "default_store_dir",
    "read_spans",
    "store_files",
]
