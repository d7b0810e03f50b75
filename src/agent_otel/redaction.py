"""Secret redaction: every captured content value is scrubbed before anything is recorded.

Content (prompts, completions, tool arguments and results, command lines, file contents,
diffs) can hold credentials. When content capture is on, :meth:`Redactor.redact` replaces each
secret it recognises by ``[REDACTED:<kind>]`` before the value is cut to its byte budget and
recorded. Where a secret is assigned to a name (``API_KEY=...``, ``"password": "..."``,
``postgres://user:...@host``) only the value is replaced, so a reader still sees what was there.

What is recognised (the kinds in :data:`KINDS`):

* vendor keys by their shape: ``openai-key`` (``sk-``, ``sk-proj-``, ``sk-svcacct-``...),
  ``anthropic-key`` (``sk-ant-``), ``aws-access-key-id`` (``AKIA``/``ASIA`` + 16),
  ``github-token`` (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_`` ``github_pat_``),
  ``slack-token`` (``xoxb-`` ``xoxp-`` ``xoxa-`` ``xoxr-`` ``xoxs-`` ``xapp-``),
  ``slack-webhook``, ``google-api-key`` (``AIza``), ``stripe-key`` (``sk_live_`` ``sk_test_``
  ``rk_live_`` ``rk_test_`` ``whsec_``);
* ``aws-secret-key``: a 40-character secret access key assigned to ``aws_secret_access_key``;
* ``authorization``: the credentials of an ``Authorization:`` header (``Bearer``, ``Basic``,
  ...), ``bearer-token``: a ``Bearer <token>`` anywhere, ``basic-auth``: ``curl -u user:pass``
  and the ``"auth"`` (base64 of ``user:password``) of Docker's ``config.json``;
* ``jwt``: three base64url segments starting with ``eyJ``;
* ``private-key``: a PEM private key block (RSA, EC, DSA, OpenSSH, PKCS#8, PGP), whole;
* ``url-password``: the password of ``scheme://user:password@host`` (any scheme: database
  connection URLs, git remotes, proxies);
* ``connection-string``: ``;Password=...;``, ``;Pwd=...;``, ``;AccountKey=...;`` and
  ``;SharedAccessKey=...;`` in ADO.NET / Azure style connection strings;
* ``secret``: a value assigned to a secret-looking name in ``.env`` files, shell, code, JSON,
  YAML, INI, URL queries and command-line flags (``API_KEY=...``, ``export GITHUB_TOKEN=...``,
  ``"password": "..."``, ``secret: ...``, ``client_secret = "..."``, ``--password ...``), in SQL
  (``PASSWORD '...'``, ``IDENTIFIED BY '...'``), in ``define('DB_PASSWORD', '...')`` and in
  prose (``the token is ...``). A name is secret-looking when one of its words is or ends with
  PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN, CREDENTIAL(S), APIKEY or ACCESSKEY/PRIVATEKEY,
  or is KEY after API, ACCESS, PRIVATE, SECRET, AUTH, ENCRYPTION, SIGNING, MASTER, HMAC or APP,
  or is PASS, or PWD next to other words (``DB_PWD``; a bare ``PWD`` is the shell's directory
  unless its value is no path, as in ODBC's ``PWD=...``) — and no word after it names
  something else (``token_count``, ``password_hint``, ``SECRET_NAME``, ``max_tokens`` and
  ``tokenizer`` are not secrets; ``SECRET_KEY_BASE`` and ``API_KEY_2`` are). Tokenizer
  specials (``pad_token``, ``eos_token``...) and paging tokens are not secrets.
* ``custom``: a match of a pattern added with ``extra_patterns`` or
  ``AGENT_OTEL_REDACT_PATTERNS``.

Placeholders are left alone where that is cheap to tell, because redacting them hides
nothing and makes examples unreadable: empty values, references (``${VAR}``, ``$VAR``,
``%VAR%``, ``{{ var }}``, ``<your-key>``, ``[PAD]``, ``os.environ["X"]``, ``self.token``, an
identifier such as ``api_key=api_key``), masks (``xxxxxx``, ``****``, ``...``, one repeated
character), the words ``changeme``, ``password``, ``secret``, ``none``, ``null`` and the like,
values starting with ``your`` and AWS's documented ``...EXAMPLE`` keys. ``changeme`` is a
placeholder too: it is publicly known, so keeping it reveals nothing. PEM blocks and JWTs are
always redacted. Generic assignments whose separator is ``:`` or a space (YAML, prose,
``--flag value``) need a value that does not read as a word (``hunter2`` yes, ``postgres`` no),
since ``Token: the unit of text`` is prose; after ``is``, a comma or a bare ``pass`` the value
must even look generated (mixed case and digits, or a long run of letters and digits), since
``the token is write-only`` and ``("api-key", "x-api-key")`` are not secrets either.

Not recognised: secrets without a telling name or shape (a bare 40-character AWS secret, a
random password on its own, a positional SQL value, the signature of a pre-signed URL),
multi-line YAML block values, ``.netrc`` files; vendor keys of other shapes (npm, PyPI,
Hugging Face, SendGrid) only where a secret-looking name holds them.

Cost: about twenty passes over the text, each as cheap as a ``str.find``: every pattern starts
with a literal (``sk-``, ``eyJ``, ``://``, ``authorization``...) that the regex engine skips
to, and names are looked for only where a secret word (``pass``, ``secret``, ``token``...)
occurs. A 10 KB source file costs about 0.1 ms. Where a pattern scans ahead (a value after
a name, the ``-u`` of a ``curl``), the scan is bounded, so that hostile text — the start of a
secret repeated thousands of times on one line — costs linear time too. A huge value that
will be cut to a budget is redacted only around what is kept (:meth:`Redactor.redact_head`).
This module is imported, and its patterns compiled, when content is first captured, not when
``agent_otel`` is imported.

Environment (read by :meth:`Redactor.from_env` and so by :func:`default_redactor`; the
arguments ``redact_patterns`` and ``redact_allow`` of ``configure()`` add to them):

``AGENT_OTEL_REDACT_PATTERNS``
    Extra regular expressions to redact, separated by newlines or ``;;``. The whole match is
    replaced by ``[REDACTED:custom]``, or only the group named ``secret`` when there is one.
``AGENT_OTEL_REDACT_ALLOW``
    Regular expressions (same separators) of values never redacted: a value that one of them
    matches *entirely* is kept, whichever kind found it.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

from agent_otel.errors import misuse

PATTERNS_ENV = "AGENT_OTEL_REDACT_PATTERNS"
ALLOW_ENV = "AGENT_OTEL_REDACT_ALLOW"
MARKER_PREFIX = "[REDACTED:"
# How far past the kept part of a huge value redact_head() looks (see there).
HEAD_MARGIN = 64 * 1024
CUSTOM_KIND = "custom"
ASSIGNMENT_KIND = "secret"

# Most specific first: where two findings overlap, their union is redacted under the kind
# of the earlier one.
KINDS = (
    "private-key",
    "jwt",
    "anthropic-key",
    "openai-key",
    "aws-access-key-id",
    "aws-secret-key",
    "github-token",
    "slack-token",
    "slack-webhook",
    "google-api-key",
    "stripe-key",
    "authorization",
    "bearer-token",
    "basic-auth",
    "url-password",
    "connection-string",
    ASSIGNMENT_KIND,
    CUSTOM_KIND,
)
_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}

_ENV_SEPARATOR = re.compile(r"\n|;;")

Patterns: TypeAlias = "str | re.Pattern[str] | Iterable[str | re.Pattern[str]]"
"""Regular expressions given by the user: one, or several."""
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# -- placeholders ---------------------------------------------------------------------------

_PLACEHOLDER_WORDS = frozenset(
    {
        "changeme", "change_me", "change-me", "changeit", "password", "passwd", "pass",
        "secret", "token", "apikey", "api_key", "api-key", "key", "credential", "credentials",
        "none", "null", "nil", "undefined", "true", "false", "todo", "tbd", "n/a", "na",
        "example", "placeholder", "redacted", "dummy", "fake", "sample", "unset", "empty",
        "default", "required", "optional", "hidden", "masked", "string", "str", "bytes",
    }
)  # fmt: skip
_PLACEHOLDER_PREFIXES = ("your", "insert", "replace", "example", "placeholder", "redacted")
# $VAR ${VAR} $(cmd) %VAR% %(name)s %s
_REFERENCE = re.compile(r"\$[A-Za-z_{(]|%[\w.]+%$|%\(|%[sdr]$")
_TEMPLATE = re.compile(r"\$\{|\$\(|\{\{|\{%|<%|\{[\w.]*\}|%\(\w+\)")
_MASKED = re.compile(r"x{6}|X{6}|\*{3}|\.\.\.|\u2026|\u2022{3}|EXAMPLE")


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is an obvious placeholder rather than a secret (see the module doc)."""
    v = value.strip()
    if len(v) < 2 or len(set(v)) == 1:
        return True
    low = v.lower()
    if low.startswith("[redacted") or low in _PLACEHOLDER_WORDS or _REFERENCE.match(v):
        return True
    if low.startswith(_PLACEHOLDER_PREFIXES) or low.endswith(("_here", "-here")):
        return True
    if (v[0], v[-1]) in (("<", ">"), ("[", "]"), ("{", "}"), ("(", ")")):
        return True
    return _TEMPLATE.search(v) is not None or _MASKED.search(v) is not None


def _word_like(value: str) -> bool:
    """A value that reads as a word, a name or a path, not as a random secret (``postgres``,
    ``str``, ``proxy_auth``, ``/var/run/token``), for separators that prose and code use too."""
    if len(value) < 5 or value.startswith(("/", "./", "~/")) or "://" in value:
        return True
    if _LETTERS_AND_UNDERSCORES.fullmatch(value) or _COLOR.fullmatch(value):
        return True
    classes = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return classes < 2 or _WORD.fullmatch(value) is not None


# -- secret-looking names -------------------------------------------------------------------

_LETTERS_AND_UNDERSCORES = re.compile(r"[A-Za-z_]+")
_WORD = re.compile(r"[A-Z]?[a-z]+")
_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}")
_REGEX_LIKE = re.compile(r"[\[\\(]")
_NAME_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SECRET_WORD_ENDINGS = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "credentials",
    "apikey", "accesskey", "privatekey",
)  # fmt: skip
# KEY is a secret's name only after one of these (API_KEY, AUTH_KEY); alone, or as in
# primary_key and cache_key, it is not.
_KEY_QUALIFIERS = frozenset(
    {"api", "access", "private", "secret", "auth", "encryption", "signing", "master", "hmac", "app"}
)
# Words that may follow the secret word and still name the secret itself.
_SECRET_TAIL = frozenset(
    {
        "key", "value", "val", "str", "string", "b64", "base64", "hex", "raw", "plain",
        "plaintext", "text", "bytes", "enc", "encrypted", "base", "secret", "token", "v",
    }
)  # fmt: skip
# ``<word>_token`` that are not credentials: tokenizer specials and paging cursors.
_NOT_SECRET_TOKENS = frozenset(
    {
        "pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start", "end", "stop",
        "next", "prev", "previous", "page", "pagination", "continuation", "cancellation",
        "cancel", "resume", "sync", "max", "min", "num", "total", "added", "new", "image",
        "first", "last", "input", "output", "per", "each",
    }
)  # fmt: skip


# Names of switches about a secret, not of a secret: is_secret, use_token, show_password.
_FLAG_WORDS = frozenset({"is", "has", "use", "show", "hide", "require", "requires", "needs", "no"})


@functools.lru_cache(maxsize=512)
def is_secret_name(name: str) -> bool:
    """Whether ``name`` (``DB_PASSWORD``, ``apiKey``, ``x-api-key``...) names a secret."""
    words = [w.lower() for w in _NAME_WORD.findall(name)]
    hit = -1
    for i, word in enumerate(words):
        if (
            word.endswith(_SECRET_WORD_ENDINGS)
            or word == "pass"
            or (word == "pwd" and len(words) > 1)
            or (word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS)
        ):
            hit = i
    if hit < 0 or words[0] in _FLAG_WORDS:
        return False
    if any(w not in _SECRET_TAIL and not w.isdigit() for w in words[hit + 1 :]):
        return False
    return not (words[hit] == "token" and hit > 0 and words[hit - 1] in _NOT_SECRET_TOKENS)


# -- rules ----------------------------------------------------------------------------------

_Check = Callable[[re.Match[str], str], bool]


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    # Each pattern starts with a literal (its boundary lookbehind comes after it), so that the
    # regex engine skips to the literal's occurrences: a scan of text without them costs
    # about as much as one str.find.
    pattern: re.Pattern[str]
    lower: bool = False  # run on the lower-cased text (for case-insensitive literals)
    group: int | str = 0  # the part of a match that is replaced
    back: int = 0  # characters before the match that belong to the secret (its literal's)
    alternatives: tuple[tuple[str, str], ...] = ()  # (group, kind): another kind's shape
    needs: tuple[str, ...] = ()  # run only when one of these secret words occurs
    check: _Check | None = None  # False: the match is not a secret after all
    placeholders: bool = True  # whether placeholder values are spared


def _rule(
    kind: str,
    regex: str,
    *,
    flags: int = 0,
    lower: bool = False,
    group: int | str = 0,
    back: int = 0,
    alternatives: tuple[tuple[str, str], ...] = (),
    needs: tuple[str, ...] = (),
    check: _Check | None = None,
    placeholders: bool = True,
) -> _Rule:
    pattern = re.compile(regex, flags | re.ASCII)
    return _Rule(kind, pattern, lower, group, back, alternatives, needs, check, placeholders)


_B64URL = r"A-Za-z0-9_\-"
_TOKEN68 = r"A-Za-z0-9._~+/\-"
_NAME_LIKE = re.compile(r"[A-Za-z_][\w.-]*", re.ASCII)
_SEPARATED = re.compile(r"[._-]")
_QUERY_END = re.compile(r"[&#]")
_BARE_SCAN = 256  # the bound of the "bare" group of _ASSIGNED_VALUE
_BARE_REST = re.compile(r"[^\s\"'`]*")
_ESCAPED_BREAK = re.compile(r"\\[nrt]")
_NEXT_SETTING = re.compile(r";(?=[ \t]*[A-Za-z][\w .-]*=)")
_CLOSERS = re.compile(r"[),;:.\]}>]+")
_OPENER = {")": "(", "]": "[", "}": "{", ">": "<"}
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*", re.ASCII)


def _is_user_and_password(match: re.Match[str], value: str) -> bool:
    """Whether ``value`` is base64 of ``user:password``, as Basic credentials are."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    _user, sep, password = decoded.partition(":")
    return bool(sep and password) and decoded.isprintable()


def _authorization_ok(match: re.Match[str], value: str) -> bool:
    if match.group("scheme"):
        return True
    # No scheme: a raw credential, or code such as ``authorization = header_value``.
    return len(value) >= 16 and any(c.isdigit() for c in value)


@functools.cache
def _builtin_rules() -> tuple[_Rule, ...]:
    pem_label = r"[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?"
    return (
        _rule(
            "private-key",
            # A whole block (its body stops at the next BEGIN or END line, so that many
            # unended blocks still cost one pass); without its END line (cut upstream), its
            # base64 and header lines, also with JSON-escaped line breaks.
            rf"-----BEGIN {pem_label}-----(?:[^-]*(?:-(?!----(?:BEGIN|END) )[^-]*)*"
            rf"-----END {pem_label}-----"
            r"|(?:(?:\s|\\[rn])+(?:[A-Za-z0-9+/=]{16,}|[A-Za-z][A-Za-z-]*:[^\n\\]*"
            r"|[A-Za-z0-9+/]*={1,2}))*)",
            flags=re.DOTALL,
            placeholders=False,
        ),
        _rule(
            "jwt",
            rf"eyJ(?<![{_B64URL}]eyJ)[{_B64URL}]{{10,}}\.e[wy][{_B64URL}]{{8,}}"
            rf"\.[{_B64URL}]{{10,}}(?:\.[{_B64URL}]{{10,}}){{0,2}}",
            placeholders=False,
        ),
        _rule(
            "openai-key",
            # sk-, sk-proj-, sk-svcacct-, sk-admin-...: a random tail has digits and capitals.
            rf"sk-(?<![{_B64URL}]sk-)(?:(?P<anthropic>ant-[{_B64URL}]{{20,}})"
            rf"|(?!ant-)(?=[{_B64URL}]*[0-9])(?=[{_B64URL}]*[A-Z])[{_B64URL}]{{20,}})",
            alternatives=(("anthropic", "anthropic-key"),),
        ),
        _rule(
            "aws-access-key-id",
            rf"A(?<![A-Za-z0-9]A)(?:(?:KIA|SIA|BIA|CCA)[A-Z0-9]{{16}}(?![A-Za-z0-9])"
            rf"|(?P<google>Iza[{_B64URL}]{{35}}(?![{_B64URL}])))",
            alternatives=(("google", "google-api-key"),),
        ),
        _rule(
            "aws-secret-key",
            # aws_secret_access_key = ..., "SecretAccessKey": "...", ...access_key <value>
            r"secret_?access_?key[\"']?(?:[ \t]*(?::|=>?)[ \t]*|[ \t]+)[\"']?"
            r"([a-z0-9/+]{40})(?![a-z0-9/+=])",
            lower=True,
            group=1,
            needs=("secret",),
        ),
        _rule(
            "github-token",
            r"g(?<![A-Za-z0-9_]g)(?:h[pousr]_[A-Za-z0-9]{36,251}"
            r"|ithub_pat_(?=[A-Za-z0-9_]*[0-9])[A-Za-z0-9_]{22,})(?![A-Za-z0-9_])",
        ),
        _rule(
            "slack-token",
            r"x(?<![A-Za-z0-9-]x)(?:ox[abposr]|app)-(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9-]{10,}",
        ),
        _rule(
            "slack-webhook",
            r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_-]{8,})",
            group=1,
        ),
        _rule(
            "stripe-key",
            # sk_live_, sk_test_, rk_live_, rk_test_: found by "k_", the s or r is behind it.
            r"k_(?<![A-Za-z0-9_][sr]k_)(?<=[sr]k_)(?:live|test)_(?=[A-Za-z0-9]*[0-9])"
            r"[A-Za-z0-9]{16,}(?![A-Za-z0-9_])",
            back=1,
        ),
        _rule("stripe-key", r"whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9]{24,}(?![A-Za-z0-9_])"),
        _rule(
            "authorization",
            r"authorization\b[\"']?\]?[ \t]*[:=][ \t]*[\"']?"
            r"(?:(?P<scheme>bearer|basic|token|digest|apikey|api-key|key|sso-key|dpop)[ \t]+)?"
            rf"(?P<value>[{_TOKEN68}]+=*)(?![{_TOKEN68}=(\[])",
            lower=True,
            group="value",
            check=_authorization_ok,
        ),
        _rule(
            "bearer-token",
            rf"bearer(?<![a-z0-9_]bearer)[ \t]+(?=[{_TOKEN68}]*[0-9])"
            rf"([{_TOKEN68}]{{16,}}=*)(?![{_TOKEN68}=])",
            lower=True,
            group=1,
        ),
        _rule(
            "basic-auth",
            # Docker's config.json: "auth": base64 of user:password.
            r"\"auth\\*\"[ \t]*:[ \t]*\\*\"([A-Za-z0-9+/]{8,}={0,2})\\*\"",
            group=1,
            check=_is_user_and_password,
        ),
        _rule(
            "basic-auth",
            # -u before the next curl and within 2,000 characters: bounds, so that a long
            # line with many curls costs linear time.
            r"curl(?<![\w.]curl)\b(?:(?!curl)[^\n]){0,2000}?\s(?:-u|--user)(?:[ \t]+|=)[\"']?"
            r"[^\s:\"'`\[]{0,256}:([^\s\"'`]+)",
            group=1,
        ),
        _rule(
            "url-password",
            # scheme://user:password@host: keep the user and the host; the password runs to
            # the last @ before the host.
            r"://(?<=[A-Za-z0-9]://)[^\s:/?#@\"'<>\[\]]*:([^\s/?#\"'<>]+)@(?=[^\s/?#@\"'<>])",
            group=1,
        ),
        _rule(
            ASSIGNMENT_KIND,
            # SQL: CREATE USER ... IDENTIFIED BY '...', IDENTIFIED WITH plugin BY '...'.
            r"identified[ \t]+(?:with[ \t]+\w+[ \t]+)?by[ \t]+(?:password[ \t]+)?"
            r"(['\"])([^'\"\n]+)\1",
            lower=True,
            group=2,
        ),
        _rule(
            "connection-string",
            r";[ \t]*(?:password|pwd|accountkey|sharedaccesskey)[ \t]*=[ \t]*"
            r"([^;\n\"']*[^;\n\"' \t])",
            lower=True,
            group=1,
            needs=("pass", "pwd", "key"),
        ),
    )


# -- generic assignments --------------------------------------------------------------------

# A secret-looking name is found by its secret word (in the lower-cased text), then widened.
_SECRET_WORD = re.compile(
    r"pass(?:w(?:or)?d|phrase)?|pwd|secret|token|credential"
    r"|(?:api|access|private|auth|encryption|signing|master|hmac|app)[_.-]?key",
    re.IGNORECASE | re.ASCII,
)
_FIND_WORDS = ("pass", "pwd", "secret", "token", "credential", "key")
_KEY_PREFIXES = tuple(_KEY_QUALIFIERS - {"secret"})  # "secret" is found by itself
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_AFTER_NAME = frozenset("\"'\\]=:? \t")
_NAME_REST = re.compile(r"[\w.-]*", re.ASCII)
_ASSIGNED_VALUE = re.compile(
    r"""
    \\*["']?\]?                                     # the end of a quoted key: "key", ["key"]
    (?:
        [ \t]*\??[ \t]*:[ \t]*                      # an annotation: password: str = "..."
        [A-Za-z_][\w.]*(?:\[[^\]\n]{0,80}\])?
        (?:[ \t]*\|[ \t]*[A-Za-z_][\w.]*(?:\[[^\]\n]{0,80}\])?)*
        [ \t]*(?P<annotated>=)(?![=>~])
      | [ \t]*(?P<sep>:=|\?=|=>|=(?![=~])|:(?![:/]))
      | [ \t]+(?P<is>is)[ \t]+                     # prose: the token is ...
      | [ \t]*(?P<comma>,)                          # define('DB_PASSWORD', '...')
      | (?P<space>[ \t]+)                          # --flag value, PASSWORD '...'
    )
    (?P<pad>[ \t]*)
    (?P<value>
        \\+"(?P<escaped>[^"\n]*?)\\+"               # "{\"password\": \"...\"}", also escaped again
      | \\+'(?P<escaped1>[^'\n]*?)\\+'              # 'PASSWORD \'...\'' (a repr)
      | (?P<prefix>[bBrRuUfF]{0,2})(?P<q>["'])(?P<quoted>(?:(?!(?P=q))[^\\\n]|\\.)*)(?P=q)
      | (?P<bare>[^\s"'`]{1,256})                  # to the end of the word: a&b(c is one
    )
    """,
    re.VERBOSE | re.ASCII,
)


def _word_hits(lowered: str) -> dict[str, list[int]]:
    """Where each secret word occurs: the candidate places of secret-looking names."""
    hits: dict[str, list[int]] = {}
    for word in _FIND_WORDS:
        i = lowered.find(word)
        while i >= 0:
            hits.setdefault(word, []).append(i)
            i = lowered.find(word, i + len(word))
    return hits


def _assignment_spans(
    text: str, lowered: str, hits: dict[str, list[int]]
) -> Iterable[tuple[int, int]]:
    """The values assigned to secret-looking names in ``text``."""
    places = []
    for word, positions in hits.items():
        if word == "key":  # only API/ACCESS/PRIVATE KEY; "key" alone is everywhere
            positions = [
                i
                for i in positions
                if lowered[max(0, i - 12) : i].rstrip("_.-").endswith(_KEY_PREFIXES)
            ]
        places.extend(positions)
    places.sort()
    done = 0
    for hit in places:
        if hit < done:
            continue
        end = _NAME_REST.match(text, hit).end()  # type: ignore[union-attr]
        done = end
        if end < len(text) and text[end] not in _AFTER_NAME:
            continue  # the common case in code: token), tokens., secretary
        start = hit
        while start > 0 and text[start - 1] in _NAME_CHARS and hit - start < 100:
            start -= 1
        before = text[max(0, start - 3) : start]
        if before.endswith(("$", "${", "://")):
            continue  # a reference ($API_KEY, ${API_KEY:-...}) or a URL's user name
        name = text[start:end]
        # A bare PWD is the shell's working directory, or ODBC's password (PWD=...).
        shell_pwd = name.lower().lstrip("+-") == "pwd"  # +/-: a line of a diff
        if not (shell_pwd or is_secret_name(name)):
            continue
        m = _ASSIGNED_VALUE.match(text, end)
        if m is None:
            continue
        span = _assigned_value_span(m, text, name)
        if span is not None and not (shell_pwd and _is_path(text[span[0] : span[1]])):
            done = span[1]
            yield span


def _assigned_value_span(m: re.Match[str], text: str, name: str) -> tuple[int, int] | None:
    sep = m.group("sep") or m.group("annotated") or m.group("is") or m.group("comma") or "space"
    flag = name.startswith("--")
    if sep == "," and text[m.start()] not in "\"'\\":
        return None  # only a quoted name and its value: f(api_key, x) is code
    # Where prose and code use the separator too, the value must read as a secret: after
    # "is", a comma (a tuple of names) or a bare PASS ('pass': 'The "pass" statement'),
    # one that looks generated; quoted after a space (PASSWORD 'x' in SQL), not a word.
    strict = sep in (",", "is") or name.lower() == "pass"
    loose = sep == "space" and not flag
    for group in ("escaped", "escaped1", "quoted"):
        value = m.group(group)
        if value is not None:
            if (strict and not _looks_generated(value)) or (
                loose and (_word_like(value) or any(c.isspace() for c in value))
            ):
                return None  # token "(" ... ")", ("password", "Password: ")
            if (
                _NAME_LIKE.fullmatch(value)
                and _SEPARATED.search(value)
                and _SECRET_WORD.search(value)
            ):
                # A name, not a secret: api_key="OPENAI_API_KEY", X_TOKEN = "x.first_token".
                return None
            if _COLOR.fullmatch(value):
                return None  # a style: Token: "#d0d0d0"
            if "r" in (m.group("prefix") or "").lower() and _REGEX_LIKE.search(value):
                return None  # a regular expression: token = r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
            return m.span(group)
    if sep in (",", "space") and not flag:
        return None
    start = m.start("bare")
    value = m.group("bare")
    if value[0] in "({[<" and (sep != "=" or m.group("pad")):
        return None  # a structure or a placeholder: token: {...}, key = [...], pw = <...>
    query = text[start - len(name) - 2 : start - len(name) - 1] in ("?", "&")
    cut = _cut_value(value, query)
    if len(cut) == len(value) == _BARE_SCAN:
        # The pattern looks no further, so that text with many secret words in one long
        # word costs linear time; a value that goes on is taken whole.
        run = _BARE_REST.match(text, start + _BARE_SCAN)
        cut = _cut_value(text[start : run.end() if run else start + _BARE_SCAN], query)
    value = cut
    if not value:
        return None
    # NAME=value, as .env files and shells write it: the value is a literal, whatever it holds.
    env_style = sep == "=" and not m.group("pad") and name.upper() == name
    ref = None if env_style else _IDENTIFIER.match(value)
    if ref is not None and not _looks_generated(ref.group(), name_like=False):
        rest = value[ref.end() :]
        named = "." in ref.group() or is_secret_name(ref.group())
        typed = m.group("annotated") or m.group("pad")  # code: apiKey: string = f<T>(...)
        if (
            rest[:1] in ("(", "[")
            or (rest[:1] == "<" and typed)
            or ((rest == "" or _CLOSERS.fullmatch(rest)) and (rest or named))
            or (rest[:1] in (")", "]", "}") and named)
        ):
            # Code: get_password(), os.environ[...], f(password=pw), {"token": tok},
            # token=self.token, api_key=api_key, {"X-Api-Key": api_key}).json().
            return None
    if not env_style:
        value = _trim_closers(value)
    if strict and not _looks_generated(value):
        return None  # the token is write-only, the minted token is workspace-scoped
    if (sep in (":", "space") or m.group("pad") or m.group("annotated")) and _word_like(value):
        # YAML, prose, flags, and "name = value" as code writes it: ask for a value that
        # does not read as a word or a name (hunter2 yes; proxy_auth, postgres no).
        return None
    return start, start + len(value)


def _is_path(value: str) -> bool:
    return value.startswith(("~", ".")) or "/" in value or "\\" in value


def _looks_generated(value: str, *, name_like: bool = True) -> bool:
    """A value that prose and code would not hold: a random-looking password or key
    (``z5vITvW2gIGQ!mbge``: mixed case and digits), or a long run of letters and digits (a
    hex or base62 token). With ``name_like=False``, a value with ``_`` or ``.`` (how names
    are written: ``api_key2``, ``self.token``) never is."""
    if any(c.isspace() for c in value) or (not name_like and ("_" in value or "." in value)):
        return False
    mixed = (
        len(value) >= 10
        and any(c.isdigit() for c in value)
        and any(c.islower() for c in value)
        and any(c.isupper() for c in value)
    )
    return mixed or (
        len(value) >= 16 and value.isalnum() and not value.isalpha() and not value.isdigit()
    )


def _cut_value(value: str, query: bool) -> str:
    """A bare value up to where something else starts: an escaped line break in JSON
    (``"A=1\\nTOKEN=..."``), the next parameter of a URL query (``?token=...&page=2``) or
    the next setting of a connection string (``Password=...;Encrypt=True``)."""
    value = _ESCAPED_BREAK.split(value, maxsplit=1)[0]
    if query:
        value = _QUERY_END.split(value, maxsplit=1)[0]
    return _NEXT_SETTING.split(value, maxsplit=1)[0]


def _trim_closers(value: str) -> str:
    """``value`` without the punctuation that ends the code or sentence around it: ``abc1),``
    -> ``abc1``, ``a(b)`` stays."""
    while value:
        last = value[-1]
        if last in ",;:." or (last in _OPENER and value.count(_OPENER[last]) < value.count(last)):
            value = value[:-1]
        else:
            break
    return value


# -- the redactor ---------------------------------------------------------------------------


def _compile(patterns: Patterns, where: str) -> list[re.Pattern[str]]:
    """The user's expressions, compiled. One that is not a text regular expression, or does
    not compile, is skipped with a warning naming it (an error in strict mode): a typo in a
    pattern must not take the app down, nor silently redact nothing."""
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]
    compiled: list[re.Pattern[str]] = []
    for pattern in patterns:
        if isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
            compiled.append(pattern)
        elif isinstance(pattern, str):
            try:
                compiled.append(re.compile(pattern))
            except re.error as error:
                misuse(f"{where}: skipped the invalid regular expression {pattern!r}: {error}")
        else:
            misuse(
                f"{where}: {pattern!r} is not a regular expression (a str or a compiled str "
                "pattern); skipped",
                TypeError,
            )
    return compiled


class Redactor:
    """Replaces secrets in text by ``[REDACTED:<kind>]`` (see the module doc for the kinds).

    ``extra_patterns`` are redacted too, as kind ``custom`` (only their group named
    ``secret`` when they have one). A value that an ``allow`` pattern matches entirely is never
    redacted. An expression that does not compile is skipped with a warning that names
    ``where`` it came from (an error in strict mode). A Redactor is immutable and safe to
    share between threads.
    """

    __slots__ = ("_allow", "_extra", "_rules")

    def __init__(
        self,
        extra_patterns: Patterns = (),
        allow: Patterns = (),
        *,
        where: str = "Redactor()",
    ) -> None:
        self._rules = _builtin_rules()
        self._extra = tuple(_compile(extra_patterns, f"{where}: extra pattern"))
        self._allow = tuple(_compile(allow, f"{where}: allow pattern"))

    @classmethod
    def from_env(
        cls, extra_patterns: Patterns = (), allow: Patterns = (), *, where: str = "Redactor()"
    ) -> Redactor:
        """A redactor with ``AGENT_OTEL_REDACT_PATTERNS`` and ``AGENT_OTEL_REDACT_ALLOW``, and
        the given ``extra_patterns`` and ``allow`` besides. An invalid expression is skipped
        with a warning (an error in strict mode)."""
        return cls(
            [*_env_patterns(PATTERNS_ENV), *_compile(extra_patterns, f"{where}: redact_patterns")],
            [*_env_patterns(ALLOW_ENV), *_compile(allow, f"{where}: redact_allow")],
            where=where,
        )

    def redact(self, text: str) -> str:
        """``text`` with each secret replaced by ``[REDACTED:<kind>]``."""
        return _replace(text, self.find(text), len(text))

    def redact_head(self, text: str, max_bytes: int) -> str:
        """A start of ``redact(text)`` longer than ``max_bytes`` UTF-8 bytes (or all of it),
        for a value that will be cut to ``max_bytes``: a huge text is redacted in a window
        that reaches :data:`HEAD_MARGIN` characters past what is returned, so that a secret
        starting in what is returned is found whole (secrets are far shorter than that)."""
        window = max_bytes + 2 * HEAD_MARGIN  # characters, and a character is >= 1 byte
        if len(text) <= window:
            return self.redact(text)
        head = text[:window]
        keep = window - HEAD_MARGIN
        redacted = _replace(head, [f for f in self.find(head) if f[0] < keep], keep)
        if len(redacted.encode("utf-8", errors="replace")) > max_bytes:
            return redacted
        return self.redact(text)  # redaction shrank the window below the budget

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """The secrets in ``text``: sorted, non-overlapping ``(start, end, kind)`` spans."""
        found: list[tuple[int, int, str]] = []
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lower-case to two: keep positions
            lowered = text.translate(_ASCII_LOWER)
        hits = _word_hits(lowered)
        for rule in self._rules:
            if rule.needs and not any(word in hits for word in rule.needs):
                continue
            for m in rule.pattern.finditer(lowered if rule.lower else text):
                start, end = m.span(rule.group)
                value = text[start - rule.back : end]
                if start == end or (rule.check is not None and not rule.check(m, value)):
                    continue
                if rule.placeholders and is_placeholder(value):
                    continue
                kind = rule.kind
                for name, other in rule.alternatives:
                    if m.group(name) is not None:
                        kind = other
                found.append((start - rule.back, end, kind))
        for start, end in _assignment_spans(text, lowered, hits):
            if not is_placeholder(text[start:end]):
                found.append((start, end, ASSIGNMENT_KIND))
        for pattern in self._extra:
            part: int | str = "secret" if "secret" in pattern.groupindex else 0
            for m in pattern.finditer(text):
                start, end = m.span(part)
                if start < end:
                    found.append((start, end, CUSTOM_KIND))
        if self._allow:
            found = [f for f in found if not self._allowed(text[f[0] : f[1]])]
        return _merge(found)

    def _allowed(self, value: str) -> bool:
        return any(p.fullmatch(value) for p in self._allow)


def _replace(text: str, spans: list[tuple[int, int, str]], stop: int) -> str:
    """``text[:stop]`` (or up to the end of the last span) with the spans replaced."""
    if not spans:
        return text[:stop]
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(f"{MARKER_PREFIX}{kind}]")
        pos = end
    out.append(text[pos:stop])
    return "".join(out)


def _merge(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping findings become one, named after the most specific kind among them."""
    if len(found) < 2:
        return found
    found.sort()
    merged = [found[0]]
    for start, end, kind in found[1:]:
        last_start, last_end, last_kind = merged[-1]
        if start < last_end:
            best = kind if _PRIORITY[kind] < _PRIORITY[last_kind] else last_kind
            merged[-1] = (last_start, max(end, last_end), best)
        else:
            merged.append((start, end, kind))
    return merged


def _env_patterns(name: str) -> list[re.Pattern[str]]:
    patterns = []
    for source in _ENV_SEPARATOR.split(os.environ.get(name, "")):
        if not source.strip():
            continue
        try:
            patterns.append(re.compile(source.strip()))
        except re.error as error:
            misuse(f"{name}: skipped the invalid regular expression {source!r}: {error}")
    return patterns


@functools.cache
def default_redactor() -> Redactor:
    """The process-wide redactor, made from the environment on first use."""
    return Redactor.from_env()
