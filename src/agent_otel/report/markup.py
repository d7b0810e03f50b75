"""HTML built from escaped pieces, so that untrusted text can never become markup.

Almost everything a report shows came from telemetry — prompts, diffs, file paths, commands,
model names, even ids — and an agent may well have written ``<script>`` into a file. Instead
of remembering to escape at every place that writes HTML, the report builds its HTML with
:func:`element`, which escapes every text child and every attribute value unless it is
:class:`Markup`: the type of HTML this package made itself. Tag and attribute names are
constants of this package and are checked, so a mistake there fails loudly instead of
producing broken HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import TypeAlias

__all__ = ["Child", "Markup", "element", "escape", "join"]


class Markup(str):
    """A piece of HTML that is safe as it is: made by :func:`element` or by this package."""

    __slots__ = ()


Child: TypeAlias = "Markup | str | int | float | Iterable[Child] | None"
"""What an element can contain: text (escaped), Markup (kept), numbers, nothing (None), or
any iterable of these (flattened)."""

AttributeValue: TypeAlias = "str | int | float | bool | None"

_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9:-]*\Z")

VOID_ELEMENTS = frozenset({"br", "col", "hr", "img", "input", "link", "meta", "wbr"})
"""Elements that have no content and no end tag."""


def escape(text: object) -> Markup:
    """``text`` as HTML text or attribute value: ``& < > " '`` become references."""
    if isinstance(text, Markup):
        return text
    return Markup(html.escape(str(text), quote=True))


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a valid HTML tag or attribute name: {name!r}")
    return name


def _attributes(attributes: Mapping[str, AttributeValue]) -> str:
    parts = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        name = _name(name.rstrip("_"))  # class_ -> class, for_ -> for
        parts.append(f" {name}" if value is True else f' {name}="{escape(value)}"')
    return "".join(parts)


def _flatten(children: Iterable[Child]) -> Iterable[str]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, (str, int, float)):  # escape() keeps Markup (a str) as it is
            yield escape(child)
        else:
            yield from _flatten(child)


def element(
    tag: str, attributes: Mapping[str, AttributeValue] | None = None, *children: Child
) -> Markup:
    """``<tag attributes>children</tag>`` with every text and attribute value escaped.

    Attributes whose value is None or False are left out, True gives a bare attribute
    (``open``); a trailing underscore is dropped so that ``class_`` can be a keyword."""
    tag = _name(tag)
    start = f"<{tag}{_attributes(attributes or {})}>"
    if tag in VOID_ELEMENTS:
        if any(child is not None for child in children):
            raise ValueError(f"<{tag}> cannot have content")
        return Markup(start)
    return Markup(f"{start}{''.join(_flatten(children))}</{tag}>")


def join(children: Iterable[Child], separator: str = "") -> Markup:
    """The children one after another (escaped like an element's), with ``separator``
    (escaped too) between them."""
    return Markup(escape(separator).join(_flatten(children)))
