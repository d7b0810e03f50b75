"""The report as one HTML document that needs nothing but itself.

The stylesheet and the script ship with the package (``report.css``, ``report.js``) and are
inlined; charts are inline SVG; fonts are the system's. The document's
Content-Security-Policy allows exactly that inline stylesheet and script (by their SHA-256)
and nothing else — no other script, style, image, font, frame or connection — so opening a
report makes no network request, and even text that slipped past escaping could not run or
load anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from agent_otel.version import __version__

from .markup import Child, Markup, element, join


@dataclass(frozen=True)
class Section:
    """A top-level part of the page, listed in the navigation bar."""

    anchor: str
    title: str
    content: Child


@cache
def asset(name: str) -> str:
    """A file shipped next to this module (``report.css``, ``report.js``), to be inlined."""
    text = resources.files("agent_otel.report").joinpath(name).read_text(encoding="utf-8")
    if "</" in text:  # would end the <style> or <script> element early
        raise ValueError(f"{name} must not contain '</'")
    return text


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(style: str, script: str) -> str:
    """Only the report's own inline stylesheet and script; nothing may be loaded."""
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {_sha256(style)}",
            f"script-src {_sha256(script)}",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def document(title: str, subtitle: Child, sections: Sequence[Section]) -> str:
    """The whole page: a sticky bar naming the sections, then the sections."""
    style, script = asset("report.css"), asset("report.js")
    head = element(
        "head",
        None,
        element("meta", {"charset": "utf-8"}),
        element(
            "meta",
            {
                "http-equiv": "Content-Security-Policy",
                "content": content_security_policy(style, script),
            },
        ),
        element("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        element("meta", {"name": "color-scheme", "content": "light dark"}),
        element("meta", {"name": "generator", "content": f"agent-otel {__version__}"}),
        element("title", None, title),
        element("style", None, Markup(style)),
    )
    nav = element(
        "nav",
        {"class": "top"},
        element("span", {"class": "brand"}, "agent-otel"),
        element(
            "ul",
            None,
            (
                element("li", None, element("a", {"href": f"#{s.anchor}"}, s.title))
                for s in sections
            ),
        ),
        element("span", {"class": "actions", "id": "actions"}),
    )
    main = element(
        "main",
        None,
        element(
            "header",
            {"class": "page"},
            element("h1", None, title),
            element("p", {"class": "muted"}, subtitle),
        ),
        (
            element(
                "section",
                {"id": s.anchor},
                element("h2", None, s.title),
                s.content,
            )
            for s in sections
        ),
    )
    body = element("body", None, nav, main, element("script", None, Markup(script)))
    return join([Markup("<!DOCTYPE html>\n"), element("html", {"lang": "en"}, head, body), "\n"])
