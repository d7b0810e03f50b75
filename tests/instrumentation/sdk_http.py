"""The HTTP library each client SDK is built on, for its MockTransport.

Current ``openai`` (3.x) and ``anthropic`` (1.x+) releases use ``httpx2``; older ones use
``httpx``. The tests answer each SDK through the library it actually imports, so the same
tests run against both generations (CI runs them once more with older SDKs installed).
"""

from __future__ import annotations

import importlib
from types import ModuleType


def http_library(sdk: str) -> ModuleType:
    base = importlib.import_module(f"{sdk}._base_client")
    module = getattr(base, "httpx2", None) or getattr(base, "httpx", None)
    if not isinstance(module, ModuleType):
        raise RuntimeError(f"cannot tell which HTTP library {sdk} uses")
    return module
