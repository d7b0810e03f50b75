"""Headless Chromium driven through the DevTools protocol over a pipe, with the stdlib only.

``chromium --remote-debugging-pipe`` reads protocol commands from file descriptor 3 and
writes responses and events to descriptor 4, each message a JSON text ended by a NUL byte
(``bash`` puts the pipes there).
That is all this client needs: no WebSocket library, no Playwright, no downloaded browser;
the system's ``chromium`` (Debian's package) is used as it is.

One :class:`Browser` per test module; :meth:`Browser.open` gives a :class:`Page` (a tab
attached with ``flatten`` sessions) that records every network request and every console or
log error while it is open.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

TIMEOUT_S = 30.0


def find_chromium() -> str | None:
    """The system's Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ProtocolError(Exception):
    """Chromium answered a command with an error."""


class Browser:
    """A headless Chromium process and the pipe to it."""

    def __init__(self, executable: str, profile: Path, log: Path) -> None:
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        # The browser expects its pipe at descriptors 3 and 4. A shell moves them there just
        # before it becomes the browser (fork-safe, unlike a preexec_fn with threads around);
        # above 9 they cannot be overwritten by that move.
        child_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser)
        os.close(from_browser)
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                'exec 3<&"$CDP_IN" 4>&"$CDP_OUT" {CDP_IN}<&- {CDP_OUT}>&-; exec "$@"',
                "chromium-launcher",
                executable,
                "--headless",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                # Containers and CI often run as root or without user namespaces, where the
                # sandbox cannot start; the page is our own file.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "about:blank",
            ],
            env={**os.environ, "CDP_IN": str(child_in), "CDP_OUT": str(child_out)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(child_in, child_out),
        )
        os.close(child_in)
        os.close(child_out)

        self._lock = threading.Condition()
        self._next_id = 0
        self._results: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="chromium-pipe", daemon=True)
        self._reader.start()

    # -- the pipe ------------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._lock:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._results[message["id"]] = message
                    else:
                        self._events.append(message)
                self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Run one protocol command and return its result; :class:`ProtocolError` if it
        failed."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        with self._lock:
            while ident not in self._results:
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    raise ProtocolError(f"no answer to {method} (browser log: {self._log.name})")
                self._lock.wait(remaining)
            reply = self._results.pop(ident)
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def events(self, session: str) -> list[dict[str, Any]]:
        """The events received so far from one page's session."""
        with self._lock:
            return [e for e in self._events if e.get("sessionId") == session]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT_S
    ) -> dict[str, Any]:
        """The first event (already received or still to come) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    raise ProtocolError("the awaited event did not come")
                self._lock.wait(remaining)

    # -- pages ---------------------------------------------------------------------------

    @contextmanager
    def open(self, url: str, *, width: int = 1280, height: int = 900) -> Iterator[Page]:
        """A new tab that has loaded ``url``, with network and console recording on from
        before the first request."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        try:
            for domain in ("Page", "Network", "Runtime", "Log"):
                page.send(f"{domain}.enable")
            page.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            page.navigate(url)
            yield page
        finally:
            self.send("Target.closeTarget", {"targetId": target})

    def close(self) -> None:
        with suppress(ProtocolError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        self._reader.join(timeout=5)
        os.close(self._from_browser)
        self._log.close()


class Page:
    """One tab: commands go to its session; its events are kept by the browser."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def events(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.browser.events(self.session) if e["method"] == method]

    def navigate(self, url: str) -> None:
        loads = len(self.events("Page.loadEventFired"))
        reply = self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise ProtocolError(f"cannot load {url}: {reply['errorText']}")
        self.browser.wait_for(
            lambda e: (
                e.get("sessionId") == self.session
                and e["method"] == "Page.loadEventFired"
                and len(self.events("Page.loadEventFired")) > loads
            )
        )

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values; a
        promise is awaited). An exception in it is a :class:`ProtocolError`."""
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in reply:
            raise ProtocolError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def set_color_scheme(self, scheme: str) -> None:
        self.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )

    def screenshot(
        self, path: Path, *, selector: str | None = None, max_height: int = 8000
    ) -> Path:
        """A PNG of the page from the top, or of the element ``selector`` finds, as wide as
        the viewport and as tall as the content (at most ``max_height`` CSS pixels)."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        top, height = 0.0, size["height"]
        if selector is not None:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                ".getBoundingClientRect(); return [r.top + window.scrollY, r.height]; })()"
            )
            top, height = box
        clip = {"x": 0, "y": top, "width": size["width"], "height": min(height, max_height)}
        data = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": {**clip, "scale": 1}, "captureBeyondViewport": True},
        )["data"]
        path.write_bytes(base64.b64decode(data))
        return path
