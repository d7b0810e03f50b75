"""A separate writer process for the store's concurrency tests (run with ``sys.executable``).

Usage: ``concurrent_writer.py STORE_DIR TAG BATCHES SPANS_PER_BATCH BIG_EVERY MAX_BYTES GO_FILE``

Touches ``ready-<TAG>`` next to GO_FILE once imported, waits until GO_FILE exists (so that
all writers start together), then exports BATCHES batches
of real SDK spans through ``StoreSpanExporter``; every BIG_EVERY-th batch carries an attribute
of more than 1 MiB, so its line is far larger than any atomic-append guarantee. Each span
is tagged with (writer, batch, index) so the test can check that every span arrives once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_otel.store import StoreSpanExporter

BIG_VALUE_BYTES = 1_200_000


def main(argv: list[str]) -> int:
    directory, tag = argv[1], argv[2]
    batches, per_batch, big_every, max_bytes = (int(a) for a in argv[3:7])
    go_file = Path(argv[7])

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("concurrency-test")
    store = StoreSpanExporter(directory, max_file_bytes=max_bytes, max_files=100_000)
    big = "x" * BIG_VALUE_BYTES

    (go_file.parent / f"ready-{tag}").touch()
    deadline = time.monotonic() + 60
    while not go_file.exists():
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.001)

    failures = 0
    for batch in range(batches):
        for index in range(per_batch):
            attributes: dict[str, str | int] = {"writer": tag, "batch": batch, "index": index}
            if big_every and batch % big_every == 0 and index == 0:
                attributes["blob"] = big
            with tracer.start_as_current_span(f"{tag}-{batch}-{index}", attributes=attributes):
                pass
        result = store.export(memory.get_finished_spans())
        memory.clear()
        if result.name != "SUCCESS":
            failures += 1
    store.shutdown()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
