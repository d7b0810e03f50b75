"""The ``agent-otel`` command line: argument parsing, dispatch and error reporting.

Each command lives in its own module with a ``register(subparsers, parents)`` function that
adds its parser and sets ``run(args, ctx) -> int`` as its handler; adding a command is one
module and one entry in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TextIO

from agent_otel.errors import AgentOtelWarning
from agent_otel.version import __version__

from . import export, report, sessions, show, summary, tail, undo
from .common import CliError, Context

PROG = "agent-otel"

COMMANDS: tuple[ModuleType, ...] = (sessions, show, summary, report, tail, undo, export)
"""The command modules, in the order ``--help`` lists them."""

Handler = Callable[[argparse.Namespace, Context], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect, follow, undo and export what agent-otel recorded in the local store.",
        epilog=(
            "The store is $AGENT_OTEL_HOME, or the platform's per-user data directory. "
            "--store also reads an OpenTelemetry Collector file-exporter output."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="store directory or OTLP JSON lines file (default: $AGENT_OTEL_HOME or the "
        "platform data directory)",
    )
    # Accept --store after the command name too (`agent-otel show ID --store x`); SUPPRESS
    # keeps the subparser from overwriting a value given before the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers, [common])
    return parser


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr, without the source location of our own code."""
    text = " ".join(str(message).split())
    stream = file if file is not None else sys.stderr
    stream.write(f"{PROG}: warning: {text}\n")
    stream.flush()


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: {' '.join(message.split())}\n")


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _replace_unencodable() -> None:
    """Never die on a character the output encoding lacks (a path or prompt in a script
    the terminal cannot show): write a replacement character instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agent-otel`` command line; returns the exit status."""
    _replace_unencodable()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return _exit_code(exit_.code)
    run: Handler | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", AgentOtelWarning)
            warnings.showwarning = _print_warning
            return run(args, Context.from_option(args.store))
    except CliError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`agent-otel sessions | head`): stop quietly, and keep the
        # interpreter from complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
