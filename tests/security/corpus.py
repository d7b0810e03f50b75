"""A corpus of realistic texts with made-up secrets planted in them.

Each template (in ``secrets_corpus.txt``) is something an agent really handles — a shell
command, a config file, a traceback, a chat prompt, a diff, the JSON arguments of a tool
call, an HTTP exchange, a log, SQL — with secrets of the kinds agent-otel promises to redact
(see :mod:`agent_otel.redaction`) written where people write them. Templates name a
generator per secret, ``<<openai>>``; ``<<password#db>>`` repeats one value within a document
(a diff that removes and re-adds it, a variable defined and then used); ``<<pem-ec|minus>>``
writes the lines of a removed file in a diff.

Every secret comes from :class:`tests.core.test_redaction.Fake`, a seeded RNG producing the
real formats (prefixes, lengths, alphabets, OpenAI's legacy marker, PEM framing, JWT
segments): none is real, and each is distinct, so a leak names its document.
"""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.core.test_redaction import ALNUM, B64, B64URL, Fake

HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Secret:
    value: str
    generator: str
    document: str

    def fragments(self) -> list[str]:
        """What must not appear anywhere: the value and a recognisable piece of it (its
        middle 12 characters); for a multi-line secret (a PEM key), each of its lines."""
        lines = [line for line in self.value.splitlines() if len(line) >= 16]
        parts = [self.value] if len(lines) <= 1 else [ln for ln in lines if "-----" not in ln]
        out: list[str] = []
        for part in parts:
            out.append(part)
            if len(part) >= 16:
                middle = len(part) // 2
                out.append(part[middle - 6 : middle + 6])
        return out


@dataclass(frozen=True)
class Document:
    label: str
    category: str
    template: str
    text: str
    secrets: tuple[Secret, ...]

    def expected_shape(self) -> re.Pattern[str]:
        """The text with each secret replaced by a marker and nothing else changed."""
        pieces = _PLACEHOLDER.split(self.template)
        pattern = "".join(
            re.escape(piece) if i % 2 == 0 else r"-?\[REDACTED:[a-z-]+\]"
            for i, piece in enumerate(pieces)
        )
        return re.compile(pattern, re.DOTALL)


_PLACEHOLDER = re.compile(r"<<([a-z0-9_:-]+(?:#[a-z0-9]+)?(?:\|minus)?)>>")


def _generators(f: Fake) -> dict[str, Callable[[], str]]:
    def hexes(n: int) -> Callable[[], str]:
        return lambda: "".join(f.rng.choice(HEX) for _ in range(n))

    def sendgrid() -> str:
        return f"SG.{f.chars(B64URL, 22)}.{f.chars(B64URL, 43)}"

    def pypi() -> str:
        return "pypi-AgEIcHlwaS5vcmc" + f.chars(B64URL, 60)

    def docker_auth() -> str:
        return base64.b64encode(f"deploy:{f.password()}".encode()).decode()

    return {
        "openai": f.openai,
        "openai-legacy": lambda: f.openai("sk-"),
        "openai-svcacct": lambda: f.openai("sk-svcacct-"),
        "openai-admin": lambda: f.openai("sk-admin-"),
        "anthropic": f.anthropic,
        "aws-id": f.aws_id,
        "aws-sts-id": lambda: f.aws_id("ASIA"),
        "aws-secret": f.aws_secret,
        "aws-session": lambda: f.chars(B64, 356),
        "github": f.github,
        "github-oauth": lambda: f.github("gho_"),
        "github-user": lambda: f.github("ghu_"),
        "github-app": lambda: f.github("ghs_"),
        "github-refresh": lambda: f.github("ghr_"),
        "github-pat": lambda: f.github("github_pat_"),
        "slack-bot": f.slack,
        "slack-user": lambda: f.slack("xoxp"),
        "slack-app": lambda: f.slack("xapp"),
        "slack-webhook": f.slack_webhook_path,
        "google": f.google,
        "google-oauth": lambda: "GOCSPX-" + f.chars(B64URL, 28),
        "stripe-live": f.stripe,
        "stripe-test": lambda: f.stripe("sk_test_"),
        "stripe-restricted": lambda: f.stripe("rk_live_"),
        "stripe-webhook": lambda: f.stripe("whsec_"),
        "jwt": f.jwt,
        "basic": f.basic,
        "docker-auth": docker_auth,
        "pem-rsa": f.pem,
        "pem-ec": lambda: f.pem("EC PRIVATE KEY"),
        "pem-openssh": lambda: f.pem("OPENSSH PRIVATE KEY"),
        "pem-pkcs8-json": lambda: f.pem("PRIVATE KEY", newline="\\n"),
        "password": f.password,
        "token": f.token,
        "token64": lambda: f.chars(B64URL, 64),
        "hex32": hexes(32),
        "hex40": hexes(40),
        "azure-key": lambda: f.chars(B64, 86) + "==",
        "npm": lambda: "npm_" + f.chars(ALNUM, 36),
        "hf": lambda: "hf_" + f.chars(string.ascii_letters, 34),
        "pypi": pypi,
        "sendgrid": sendgrid,
        "django": lambda: f.chars(ALNUM, 1) + f.chars(ALNUM + "!@#%^&*(-_=+)", 49),
    }


CORPUS_FILE = Path(__file__).with_name("secrets_corpus.txt")


def _templates() -> list[tuple[str, str, str]]:
    """``(label, category, template)`` from :data:`CORPUS_FILE`: each template starts with a
    line ``=== <label> <category>`` and runs to the next one."""
    out = []
    for block in CORPUS_FILE.read_text(encoding="utf-8").split("=== ")[1:]:
        header, _, body = block.partition("\n")
        label, category = header.split()
        out.append((label, category, body.removesuffix("\n")))
    return out


TEMPLATES = _templates()


def documents(seed: int = 20250314) -> list[Document]:
    """The corpus with fresh secrets from ``seed`` (every value distinct)."""
    fake = Fake(seed)
    generators = _generators(fake)
    seen: set[str] = set()
    out = []
    for label, category, template in TEMPLATES:
        named: dict[str, str] = {}
        secrets: list[Secret] = []

        def fill(
            match: re.Match[str],
            label: str = label,
            named: dict[str, str] = named,
            secrets: list[Secret] = secrets,
        ) -> str:
            spec, minus, _ = match.group(1).partition("|")
            generator = spec.split("#", 1)[0]
            if "#" in spec and spec in named:
                return named[spec]
            value = generators[generator]()
            while value in seen:  # practically never; distinct values name their leak
                value = generators[generator]()
            seen.add(value)
            named[spec] = value
            secrets.append(Secret(value, generator, label))
            # "|minus": the lines of a removed file in a diff.
            return "\n".join("-" + line for line in value.splitlines()) if minus else value

        text = _PLACEHOLDER.sub(fill, template)
        out.append(Document(label, category, template, text, tuple(secrets)))
    return out


def all_secrets(docs: list[Document]) -> Iterator[Secret]:
    for doc in docs:
        yield from doc.secrets
