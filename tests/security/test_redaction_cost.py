"""Redaction costs linear time on hostile text too: no input makes the app wait.

Captured content is redacted on the app's thread, so a value built to make a pattern
backtrack — the start of a secret repeated thousands of times on one line, a secret word in
front of every character — must not stall it. Each text here is about 100 KB (what
``redact_head`` may look at for a value with the default budget is about 160 KB), made of
the literal one rule or the assignment scanner starts from, repeated. Before the bounds in
:mod:`agent_otel.redaction`, ``curl `` repeated took 23 s and ``;password=`` repeated 3.7 s.
"""

from __future__ import annotations

import time

import pytest

from agent_otel.redaction import Redactor

SIZE = 100_000
LIMIT_S = 1.0  # measured at most ~0.06 s on the 2-core development machine

HOSTILE = {
    "curl": "curl ",
    "curl -u without a password": "curl -u " + "a" * 50 + " ",
    "a connection string's setting": ";password=",
    "URL query parameters": "&token=x",
    "env assignments": "password=x;",
    "YAML keys": "token: ",
    "quoted SQL": 'password "',
    "prose": "api_key is ",
    "a structure that is rejected": "password={" + "a" * 300 + ";",
    "shell directories": "PWD=/" + "a" * 300 + ";",
    "escaped JSON keys": '"\\"password\\": ',
    "annotations": "password: str | ",
    "define()": "('password', ",
    "URL passwords": "x://u:" + "p" * 100 + " ",
    "URL userinfo": "a://b:",
    "PEM headers": "-----BEGIN RSA PRIVATE KEY-----\n",
    "PEM body without an end": "A" * 64 + "\n",
    "JWT starts": "eyJaaaaaaaaaaaa.",
    "key prefixes": "sk-",
    "Slack prefixes": "xoxb-",
    "AWS prefixes": "AKIA",
    "Stripe prefixes": "sk_live_",
    "Bearer": "bearer ",
    "Authorization": "authorization: ",
    "IDENTIFIED BY": "identified by ",
    "Docker auth": '"auth": "',
    "secret words glued together": "api_key",
    "backslashes": "\\",
}


@pytest.mark.parametrize("unit", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_redacted_in_linear_time(unit: str) -> None:
    text = unit * (SIZE // len(unit))
    if unit.startswith("A" * 64):
        text = "-----BEGIN RSA PRIVATE KEY-----\n" + text
    redactor = Redactor()
    start = time.perf_counter()
    redactor.redact(text)
    elapsed = time.perf_counter() - start
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s for {len(text)} characters"
