"""``agent-otel export --to URL``: replay the stored spans to any OTLP endpoint.

Sessions recorded offline (into the local store) reach Jaeger, Tempo or a Collector later,
with their original ids, parents, timestamps, events, links, status, resource and scope. The
stored lines are rebuilt into SDK spans (:mod:`agent_otel.store.replay`) and sent by the
official OTLP exporters, over HTTP (protobuf) or gRPC, in batches, one after the other, so
that the first failure stops the export with a clear message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.text import Text

from agent_otel.errors import AgentOtelWarning
from agent_otel.store.lines import decode_lines, read_lines

from .common import CliError, Context, find_sessions, progress_bar

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

NAME = "export"

HTTP = "http/protobuf"
GRPC = "grpc"
PROTOCOLS = (HTTP, GRPC)
DEFAULT_PORTS = {HTTP: 4318, GRPC: 4317}
"""OTLP's default ports, used when the URL names none (443 with TLS)."""
TRACES_PATH = "/v1/traces"
DEFAULT_BATCH_SIZE = 512
DEFAULT_TIMEOUT_S = 10.0

HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"
TRACES_HEADERS_ENV = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"

# The official exporters report why an export failed only in log records, under this name.
_EXPORTER_LOGGER = "opentelemetry.exporter.otlp"


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="send the stored spans to an OTLP endpoint (Jaeger, Tempo, a Collector)",
        description="Replay the spans in the store to an OTLP endpoint, keeping their trace "
        "and span ids, parents, timestamps, events, links, status, resource and scope. "
        f"http:// and https:// URLs use OTLP/HTTP protobuf (a URL without a path gets "
        f"{TRACES_PATH}); grpc:// and grpcs:// (or --protocol grpc) use OTLP/gRPC. Without a "
        f"port, {DEFAULT_PORTS[HTTP]} (HTTP) or {DEFAULT_PORTS[GRPC]} (gRPC) is used, or 443 "
        "with TLS.",
    )
    parser.add_argument(
        "--to", required=True, metavar="URL", help="e.g. http://localhost:4318 or grpc://host:4317"
    )
    parser.add_argument(
        "--protocol", choices=PROTOCOLS, help="override the protocol the URL's scheme implies"
    )
    parser.add_argument(
        "--session",
        metavar="SESSION_ID",
        help="only the traces of this session (an id or a unique prefix)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a header (HTTP) or metadata entry (gRPC) to send, besides those of "
        "OTEL_EXPORTER_OTLP_HEADERS; repeatable",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive(int),
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"spans per request (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per request, retries included (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(run=run)


def _positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    return parse


# -- where to ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where the spans go, resolved from ``--to`` and ``--protocol``."""

    protocol: str
    host: str
    port: int
    tls: bool
    path: str = ""

    @property
    def address(self) -> str:
        """``host:port`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL requests go to, as shown to the user."""
        if self.protocol == GRPC:
            return f"{'grpcs' if self.tls else 'grpc'}://{self.address}"
        return f"{'https' if self.tls else 'http'}://{self.address}{self.path}"


def parse_endpoint(url: str, protocol: str | None) -> Endpoint:
    """``--to`` and ``--protocol`` to an :class:`Endpoint`; :class:`CliError` if they make
    no sense together."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "grpc", "grpcs") or not parts.hostname:
        raise CliError(
            f"--to: expected a URL such as http://localhost:4318 or grpc://localhost:4317, "
            f"got {url!r}"
        )
    implied = GRPC if scheme.startswith("grpc") else HTTP
    if protocol == HTTP and implied == GRPC:
        raise CliError(f"--to: a {scheme}:// URL cannot be used with --protocol {HTTP}")
    chosen = protocol or implied
    tls = scheme in ("https", "grpcs")
    try:
        port = parts.port
    except ValueError as error:
        raise CliError(f"--to: {error} in {url!r}") from None
    if port is None:
        port = 443 if tls else DEFAULT_PORTS[chosen]
    has_path = parts.path not in ("", "/") or bool(parts.query)
    if chosen == GRPC:
        if has_path:
            raise CliError(f"--to: a gRPC endpoint has no path, got {url!r}")
        return Endpoint(chosen, parts.hostname, port, tls)
    path = parts.path + (f"?{parts.query}" if parts.query else "") if has_path else TRACES_PATH
    return Endpoint(chosen, parts.hostname, port, tls, path)


def parse_headers(pairs: Sequence[str]) -> dict[str, str]:
    """The headers of ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (or ``OTEL_EXPORTER_OTLP_HEADERS``)
    with the ``KEY=VALUE`` options over them, for both protocols alike (the gRPC exporter
    would drop the environment's as soon as any are given). Keys are lowercased: gRPC
    metadata requires it, HTTP ignores case."""
    from opentelemetry.util.re import parse_env_headers

    environment = os.environ.get(TRACES_HEADERS_ENV) or os.environ.get(HEADERS_ENV, "")
    headers = {k.lower(): v for k, v in parse_env_headers(environment, liberal=True).items()}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--header: expected KEY=VALUE, got {pair!r}")
        headers[key.strip().lower()] = value.strip()
    return headers


def make_exporter(endpoint: Endpoint, headers: dict[str, str], timeout: float) -> SpanExporter:
    """The official OTLP span exporter for ``endpoint`` (imported here: gRPC is slow to
    import and only this command needs it)."""
    if endpoint.protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(
            endpoint=endpoint.address,
            insecure=not endpoint.tls,
            headers=headers or None,
            timeout=timeout,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=endpoint.url, headers=headers or None, timeout=timeout)


def check_reachable(endpoint: Endpoint, timeout: float) -> None:
    """Fail fast, with the reason, when nothing accepts connections at the endpoint (the
    exporters would retry until the timeout and only log why)."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise CliError(f"cannot reach {endpoint.url}: {reason}") from None


# -- sending ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, ctx: Context) -> int:
    endpoint = parse_endpoint(args.to, args.protocol)
    headers = parse_headers(args.header)
    files = ctx.require_store()
    traces: set[int] | None = None
    if args.session is not None:
        found = find_sessions(ctx.sessions(), args.session)
        traces = {int(s.trace_id, 16) for s in found if s.trace_id}
    check_reachable(endpoint, args.timeout)
    started = time.monotonic()
    with warnings.catch_warnings():
        if traces is not None:
            # Reading the sessions above already reported every corrupt line once.
            warnings.simplefilter("ignore", AgentOtelWarning)
        sent = send(ctx, endpoint, headers, args, traces, sum(_size(f) for f in files))
    elapsed = time.monotonic() - started
    if args.json:
        outcome = {"endpoint": endpoint.url, "spans": sent.spans, "traces": len(sent.traces)}
        sys.stdout.write(json.dumps(outcome, indent=2) + "\n")
        return 0
    console = ctx.console()
    if not sent.spans:
        what = "this session" if traces is not None else "the store"
        console.print(Text(f"No spans to export in {what} ({ctx.store})."))
        return 0
    spans, count = sent.spans, len(sent.traces)
    console.print(
        Text(
            f"Exported {spans:,} span{'s' if spans != 1 else ''} of {count:,} "
            f"trace{'s' if count != 1 else ''} to {endpoint.url} in {elapsed:.1f}s."
        )
    )
    return 0


class Sender:
    """Sends spans in batches of ``batch_size``, one request at a time; the first request
    the endpoint does not take is a :class:`CliError` that says why."""

    def __init__(
        self, exporter: SpanExporter, endpoint: Endpoint, log: _ExporterLog, batch_size: int
    ) -> None:
        self.exporter = exporter
        self.endpoint = endpoint
        self.log = log
        self.batch_size = batch_size
        self.pending: list[ReadableSpan] = []
        self.spans = 0
        self.traces: set[int] = set()

    def add(self, spans: Iterable[ReadableSpan]) -> None:
        self.pending.extend(spans)
        while len(self.pending) >= self.batch_size:
            self._send(self.pending[: self.batch_size])
            del self.pending[: self.batch_size]

    def finish(self) -> None:
        if self.pending:
            self._send(self.pending)
            self.pending = []

    def _send(self, batch: list[ReadableSpan]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self.exporter.export(batch) is not SpanExportResult.SUCCESS:
            reason = self.log.reason() or "the endpoint did not accept the spans"
            raise CliError(
                f"export to {self.endpoint.url} failed after {self.spans:,} spans were sent: "
                f"{reason}"
            )
        self.spans += len(batch)
        self.traces.update(span.context.trace_id for span in batch if span.context)


def send(
    ctx: Context,
    endpoint: Endpoint,
    headers: dict[str, str],
    args: argparse.Namespace,
    traces: set[int] | None,
    total_bytes: int,
) -> Sender:
    """Export the store's spans (only those of ``traces``, when given), line by line."""
    from agent_otel.store.replay import readable_spans

    with _exporter_log() as log:
        exporter = make_exporter(endpoint, headers, args.timeout)
        sender = Sender(exporter, endpoint, log, args.batch_size)
        try:
            with progress_bar(f"Exporting to {endpoint.url}") as progress:
                done = 0
                for line, spans in decode_lines(read_lines(ctx.store), readable_spans):
                    if traces is None:
                        sender.add(spans)
                    else:
                        sender.add(s for s in spans if s.context and s.context.trace_id in traces)
                    done += len(line.data) + 1
                    if progress is not None:
                        progress(done, total_bytes)
                sender.finish()
        finally:
            exporter.shutdown()
    return sender


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _ExporterLog(logging.Handler):
    """Keeps the exporters' warnings and errors (their only account of a failure) instead
    of letting them reach the terminal as log lines."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def reason(self) -> str | None:
        """The last error the exporter logged, else its last warning."""
        for level in (logging.ERROR, logging.WARNING):
            for record in reversed(self.records):
                if record.levelno >= level:
                    return " ".join(record.getMessage().split())
        return None


@contextlib.contextmanager
def _exporter_log() -> Iterator[_ExporterLog]:
    logger = logging.getLogger(_EXPORTER_LOGGER)
    handler = _ExporterLog()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
