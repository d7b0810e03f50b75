"""Secret redaction: planted secrets of every kind are replaced and nothing around them is
touched; ordinary code and prose is left alone; extra patterns and the allow-list come from
the environment; and content recorded through the public API is redacted before it is cut.

The secrets are made up here by a seeded RNG in the shapes of the real ones: none is real.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import opentelemetry
import opentelemetry.sdk
import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel.content import ContentPolicy
from agent_otel.errors import AgentOtelWarning
from agent_otel.redaction import (
    ALLOW_ENV,
    KINDS,
    PATTERNS_ENV,
    Redactor,
    default_redactor,
    is_placeholder,
    is_secret_name,
)

REPO = Path(__file__).resolve().parents[2]
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"


class Fake:
    """Made-up secrets in the shapes of real ones, from a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        out = [self.rng.choice(alphabet) for _ in range(n)]
        # Random keys of this length always mix cases and digits; make sure ours do.
        for i, kind in enumerate((string.digits, string.ascii_uppercase, string.ascii_lowercase)):
            if n > 8 and any(c in alphabet for c in kind):
                out[1 + i * 3] = self.rng.choice(kind)
        return "".join(out)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def openai(self, prefix: str = "sk-proj-") -> str:
        if prefix == "sk-":  # the legacy shape, with OpenAI's marker in the middle
            return "sk-" + self.chars(ALNUM, 20) + "T3BlbkFJ" + self.chars(ALNUM, 20)
        return prefix + self.chars(B64URL, 120) + self.chars(ALNUM, 4)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.chars(B64URL, 93) + "AA"

    def aws_id(self, prefix: str = "AKIA") -> str:
        return prefix + self.chars(UPPER_DIGITS, 16)

    def aws_secret(self) -> str:
        return self.chars(B64, 40)

    def github(self, prefix: str = "ghp_") -> str:
        if prefix == "github_pat_":
            return prefix + self.chars(ALNUM, 22) + "_" + self.chars(ALNUM, 59)
        return prefix + self.chars(ALNUM, 36)

    def slack(self, prefix: str = "xoxb") -> str:
        return f"{prefix}-{self.digits(12)}-{self.digits(13)}-{self.chars(ALNUM, 24)}"

    def slack_webhook_path(self) -> str:
        return f"T{self.chars(UPPER_DIGITS, 8)}/B{self.chars(UPPER_DIGITS, 10)}/" + self.chars(
            ALNUM, 24
        )

    def google(self) -> str:
        return "AIza" + self.chars(B64URL, 35)

    def stripe(self, prefix: str = "sk_live_") -> str:
        return prefix + self.chars(ALNUM, 24 if prefix == "whsec_" else 99)

    def token(self, n: int = 40) -> str:
        return self.chars(ALNUM, n)

    def password(self) -> str:
        return self.chars(ALNUM, 6) + self.chars(ALNUM + "!%^+-_~", 10)

    def jwt(self) -> str:
        def seg(obj: object) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        payload = {"sub": self.digits(10), "exp": 1_900_000_000, "scope": "repo read:org"}
        return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg(payload)}.{self.chars(B64URL, 43)}"

    def basic(self) -> str:
        return base64.b64encode(f"deploy:{self.password()}".encode()).decode()

    def pem(self, label: str = "RSA PRIVATE KEY", newline: str = "\n") -> str:
        body = [self.chars(B64, 64) for _ in range(12)] + [self.chars(B64, 30) + "=="]
        return newline.join([f"-----BEGIN {label}-----", *body, f"-----END {label}-----"])


@dataclass
class Case:
    """A realistic text with secrets planted where ``{}`` is; each is expected to be replaced
    whole by ``[REDACTED:<kind>]`` and nothing else to change."""

    where: str
    template: str
    secrets: list[tuple[str, str]]  # (value, kind)

    def text(self) -> str:
        return self.template.format(*(value for value, _ in self.secrets))

    def expected(self) -> str:
        return self.template.format(*(f"[REDACTED:{kind}]" for _, kind in self.secrets))


def _corpus(seed: int = 20240611) -> list[Case]:
    f = Fake(seed)
    cases: list[Case] = []

    def add(where: str, template: str, *secrets: tuple[Callable[[], str] | str, str]) -> None:
        values = [(v() if callable(v) else v, kind) for v, kind in secrets]
        cases.append(Case(where, template, values))

    # -- shell history
    add(
        "shell",
        "$ export OPENAI_API_KEY={}\n$ python run.py --model gpt-4o",
        (f.openai, "openai-key"),
    )
    add(
        "shell",
        'export ANTHROPIC_API_KEY="{}"\nclaude -p "fix the tests"',
        (f.anthropic, "anthropic-key"),
    )
    add("shell", "$ GITHUB_TOKEN={} gh pr list --state open", (f.github, "github-token"))
    add(
        "shell",
        "git clone https://x-access-token:{}@github.com/acme/app.git /tmp/app",
        (lambda: f.github("ghs_"), "github-token"),
    )
    add(
        "shell",
        "aws configure set aws_access_key_id {}\naws configure set aws_secret_access_key {}\n"
        "aws s3 ls s3://acme-backups/",
        (f.aws_id, "aws-access-key-id"),
        (f.aws_secret, "aws-secret-key"),
    )
    add(
        "shell",
        "mysql -h db.internal -u root --password={} shop < dump.sql",
        (f.password, "secret"),
    )
    add(
        "shell",
        "PGPASSWORD={} psql -h 10.0.0.5 -U app -d app -c 'select 1'",
        (f.password, "secret"),
    )
    add(
        "shell",
        "curl -sS -u admin:{} https://jenkins.local/api/json?pretty=true",
        (f.password, "basic-auth"),
    )
    add(
        "shell",
        'curl -H "Authorization: Bearer {}" -H "Accept: application/json" https://api.example.com/v1/me',
        (f.token, "authorization"),
    )
    add("shell", "curl -H 'X-Api-Key: {}' https://api.example.com/v2/items", (f.token, "secret"))
    add(
        "shell",
        "curl https://api.stripe.com/v1/charges -u {}: -d amount=2000 -d currency=usd",
        (f.stripe, "stripe-key"),
    )
    add(
        "shell",
        "docker run -d -e POSTGRES_PASSWORD={} -p 5432:5432 postgres:16",
        (f.password, "secret"),
    )
    add("shell", "heroku config:set SLACK_BOT_TOKEN={} -a acme-bot", (f.slack, "slack-token"))
    add(
        "shell",
        "npm config set //registry.npmjs.org/:_authToken={}\nnpm publish --access public",
        (lambda: "npm_" + f.token(36), "secret"),
    )
    add("shell", "./deploy.sh --env prod --api-key {} --dry-run", (f.token, "secret"))
    # -- .env files
    add(
        ".env",
        "# database\nDATABASE_URL=postgres://app:{}@db.internal:5432/app\nDEBUG=false\n",
        (f.password, "url-password"),
    )
    add(".env", "REDIS_URL=redis://:{}@cache:6379/0\n", (f.password, "url-password"))
    add(
        ".env",
        "MONGO_URI=mongodb+srv://admin:{}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true\n",
        (f.password, "url-password"),
    )
    add(".env", "AMQP_URL=amqp://worker:{}@rabbit:5672/%2F\n", (f.password, "url-password"))
    add(".env", "MYSQL_URL=mysql://root:{}@127.0.0.1:3306/shop\n", (f.password, "url-password"))
    add(
        ".env",
        "SECRET_KEY={}\nALLOWED_HOSTS=example.com\n",
        (lambda: f.chars(ALNUM, 1) + f.chars(ALNUM + "!@#%^&*(-_=+)", 49), "secret"),
    )
    add(".env", "STRIPE_SECRET_KEY={}\n", (lambda: f.stripe("sk_test_"), "stripe-key"))
    add(".env", "STRIPE_WEBHOOK_SECRET={}\n", (lambda: f.stripe("whsec_"), "stripe-key"))
    add(".env", "GOOGLE_MAPS_API_KEY={}\n", (f.google, "google-api-key"))
    add(
        ".env",
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{}\n",
        (f.slack_webhook_path, "slack-webhook"),
    )
    add(".env", "JWT_SECRET={}\nJWT_TTL=3600\n", (f.password, "secret"))
    add(".env", "SMTP_HOST=smtp.mailgun.org\nSMTP_PASS={}\n", (f.password, "secret"))
    add(".env", 'AUTH0_CLIENT_SECRET="{}"\n', (lambda: f.chars(B64URL, 64), "secret"))
    # -- Python
    add(
        "python", 'client = OpenAI(api_key="{}")\n', (lambda: f.openai("sk-svcacct-"), "openai-key")
    )
    add("python", 'CLIENT_ID = "web-app"\nclient_secret = "{}"\n', (f.token, "secret"))
    add(
        "python",
        'DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", '
        '"PASSWORD": "{}", "HOST": "db"}}}}\n',
        (f.password, "secret"),
    )
    add("python", "settings.SECRET_KEY = '{}'\n", (f.password, "secret"))
    add(
        "python",
        'conn = psycopg.connect(host="db", user="app", password="{}")\n',
        (f.password, "secret"),
    )
    add("python", 'os.environ["GITHUB_TOKEN"] = "{}"\n', (lambda: f.github("gho_"), "github-token"))
    add(
        "python",
        "r = redis.Redis(host='cache', port=6379, password='{}')\n",
        (f.password, "secret"),
    )
    add("python", 'api_key: str = "{}"\n', (f.token, "secret"))
    # -- JavaScript / TypeScript / Go / Java / PHP / TOML
    add("js", "const stripe = require('stripe')('{}');\n", (f.stripe, "stripe-key"))
    add(
        "js",
        'const firebaseConfig = {{ apiKey: "{}", authDomain: "acme.firebaseapp.com" }};\n',
        (f.google, "google-api-key"),
    )
    add(
        "js",
        'await fetch(url, {{ headers: {{ "Authorization": "Bearer {}" }} }});\n',
        (f.token, "authorization"),
    )
    add("js", "const accessToken = '{}';\n", (f.token, "secret"))
    add("go", 'token := "{}"\nreq.Header.Set("X-Token", token)\n', (f.token, "secret"))
    add(
        "java",
        "spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password={}\n",
        (f.password, "secret"),
    )
    add("php", "$config = [\n    'password' => '{}',\n];\n", (f.password, "secret"))
    add("toml", '[openai]\napi_key = "{}"\n', (f.openai, "openai-key"))
    # -- YAML
    add(
        "yaml",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {}\n",
        (f.password, "secret"),
    )
    add("yaml", 'smtp:\n  host: smtp.example.com\n  password: "{}"\n', (f.password, "secret"))
    add(
        "yaml",
        "slack:\n  channel: '#deploys'\n  token: {}\n",
        (lambda: f.slack("xoxp"), "slack-token"),
    )
    add(
        "yaml",
        "aws:\n  region: eu-west-1\n  aws_secret_access_key: {}\n",
        (f.aws_secret, "aws-secret-key"),
    )
    add("yaml", "github:\n  token: {}\n", (lambda: f.github("ghu_"), "github-token"))
    add("yaml", "jwt:\n  secret: {}\n  ttl: 3600\n", (f.password, "secret"))
    # -- stack traces and logs
    add(
        "traceback",
        'Traceback (most recent call last):\n  File "app.py", line 12, in <module>\n'
        "openai.AuthenticationError: Error code: 401 - {{'error': {{'message': "
        "'Incorrect API key provided: {}.', 'type': 'invalid_request_error'}}}}\n",
        (lambda: f.openai("sk-"), "openai-key"),
    )
    add(
        "traceback",
        'psycopg.OperationalError: connection failed: "postgresql://app:{}@10.0.0.5:5432/app"\n',
        (f.password, "url-password"),
    )
    add(
        "log",
        "2024-05-01T12:00:00Z INFO request headers="
        "{{'authorization': 'Bearer {}', 'accept': '*/*'}}\n",
        (f.jwt, "jwt"),
    )
    add(
        "log",
        "2024-05-01T12:00:01Z WARN slack refresh with {} failed\n",
        (lambda: f.slack("xoxr"), "slack-token"),
    )
    add(
        "log",
        "DEBUG botocore: using AccessKeyId {} from env\n",
        (lambda: f.aws_id("ASIA"), "aws-access-key-id"),
    )
    add("log", "ERROR invalid session cookie {} (expired)\n", (f.jwt, "jwt"))
    add(
        "log",
        "GET https://api.example.com/cb?access_token={}&page=2 401\n",
        (lambda: f.github("ghr_"), "github-token"),
    )
    add("log", "legacy slack client {} connected\n", (lambda: f.slack("xoxs"), "slack-token"))
    add("log", "legacy workspace token {} rotated\n", (lambda: f.slack("xoxa"), "slack-token"))
    add(
        "log",
        "using fine-grained {} for acme/app\n",
        (lambda: f.github("github_pat_"), "github-token"),
    )
    add("log", "restricted key {} loaded\n", (lambda: f.stripe("rk_live_"), "stripe-key"))
    # -- JSON payloads
    add(
        "json",
        '{{"type": "service_account", "project_id": "acme-prod", "private_key": "{}", '
        '"client_email": "ci@acme-prod.iam.gserviceaccount.com"}}',
        (lambda: f.pem("PRIVATE KEY", newline="\\n"), "private-key"),
    )
    add(
        "json",
        '{{"Credentials": {{"AccessKeyId": "{}", "SecretAccessKey": "{}", "SessionToken": "{}", '
        '"Expiration": "2024-05-01T13:00:00Z"}}}}',
        (lambda: f.aws_id("ASIA"), "aws-access-key-id"),
        (f.aws_secret, "aws-secret-key"),
        (lambda: f.chars(B64, 300), "secret"),
    )
    add(
        "json",
        '{{"access_token": "{}", "token_type": "Bearer", "expires_in": 3600, '
        '"refresh_token": "{}"}}',
        (f.jwt, "jwt"),
        (f.token, "secret"),
    )
    add(
        "json",
        '{{"credentials": {{"username": "svc-ci", "password": "{}"}}}}',
        (f.password, "secret"),
    )
    add(
        "json",
        '{{"name": "bash", "arguments": {{"command": "export OPENAI_API_KEY={} && ./deploy.sh"}}}}',
        (f.openai, "openai-key"),
    )
    add("json", '"{{\\"api_key\\": \\"{}\\", \\"region\\": \\"us\\"}}"', (f.token, "secret"))
    # -- key files and connection strings
    add("id_rsa", "{}\n", (lambda: f.pem("OPENSSH PRIVATE KEY"), "private-key"))
    add("pem", "cert and key:\n{}\n# end\n", (lambda: f.pem("EC PRIVATE KEY"), "private-key"))
    add("pem", "{}\n", (lambda: f.pem("ENCRYPTED PRIVATE KEY"), "private-key"))
    add(
        "ado",
        "Server=tcp:sql.example.net,1433;Initial Catalog=app;User ID=admin;"
        "Password={};Encrypt=True;",
        (f.password, "connection-string"),
    )
    add(
        "azure",
        "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={};EndpointSuffix=core.windows.net",
        (lambda: f.chars(B64, 86) + "==", "connection-string"),
    )
    add(
        "http",
        "GET /admin HTTP/1.1\nHost: intranet\nAuthorization: Basic {}\n\n",
        (f.basic, "authorization"),
    )
    add(
        "http",
        "CONNECT x:443 HTTP/1.1\nProxy-Authorization: Basic {}\n",
        (f.basic, "authorization"),
    )
    add("prose", "The token is {} - keep it safe.\n", (lambda: f.openai("sk-admin-"), "openai-key"))
    add("log", "12:00:03 DEBUG sending Bearer {} to upstream\n", (f.token, "bearer-token"))
    add("python", 'session.headers["authorization"] = "bearer {}"\n', (f.token, "authorization"))
    return cases


CORPUS = _corpus()


def test_the_corpus_plants_enough_secrets_of_every_kind() -> None:
    planted = [kind for case in CORPUS for _, kind in case.secrets]
    assert len(planted) >= 60
    assert set(KINDS) - {"custom"} <= set(planted)
    assert len({case.where for case in CORPUS}) >= 10


@pytest.mark.parametrize("case", CORPUS, ids=[f"{i}-{c.where}" for i, c in enumerate(CORPUS)])
def test_planted_secrets_are_replaced_and_the_rest_kept(case: Case) -> None:
    text = case.text()
    redacted = Redactor().redact(text)
    for value, _ in case.secrets:
        assert value not in redacted
    assert redacted == case.expected()


def test_all_planted_secrets_in_one_text() -> None:
    text = "\n".join(case.text() for case in CORPUS)
    redacted = Redactor().redact(text)
    assert redacted == "\n".join(case.expected() for case in CORPUS)
    for case in CORPUS:
        for value, _ in case.secrets:
            assert value not in redacted
            # Not even a recognisable piece of it.
            assert value[len(value) // 3 : len(value) // 3 + 12] not in redacted


def test_other_seeds_too() -> None:
    redactor = Redactor()
    for seed in range(5):
        for case in _corpus(seed):
            assert redactor.redact(case.text()) == case.expected(), case.where


def test_redacting_twice_changes_nothing_more() -> None:
    once = Redactor().redact("\n".join(case.text() for case in CORPUS))
    assert Redactor().redact(once) == once


# -- false positives ----------------------------------------------------------------------


def _ordinary_corpus() -> list[Path]:
    # The installed OpenTelemetry packages (API, SDK, exporters, semantic conventions...),
    # this repository's sources and its README.
    files = sorted(p for root in opentelemetry.__path__ for p in Path(root).rglob("*.py"))
    files += sorted((REPO / "src").rglob("*.py"))
    files.append(REPO / "README.md")
    return files


def test_false_positive_rate_on_ordinary_code_and_prose(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    lines = 0
    found: list[str] = []
    for path in _ordinary_corpus():
        text = path.read_text(encoding="utf-8")
        lines += text.count("\n")
        for start, end, kind in redactor.find(text):
            line_start = text.rfind("\n", 0, start) + 1
            found.append(f"{path.name}: {kind}: {text[line_start : text.find(chr(10), end)]}")
    rate = len(found) / lines * 10_000
    with capsys.disabled():
        print(f"\nfalse positives: {len(found)} in {lines} lines ({rate:.2f} per 10,000 lines)")
    assert lines > 20_000  # the corpus is really there
    assert rate < 1.0, found


ORDINARY = [
    "request_id = 'f47ac10b-58cc-4372-a567-0e02b2c3d479'",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    "digest: sha256:3d1b0a0c4d8a45f8a6c1d1b2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3",
    'icon = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"',
    "token_count = 5",
    "max_tokens = 1024",
    "usage = {'input_tokens': 120, 'output_tokens': 45}",
    "password_hint = 'the name of your first pet'",
    "min_password_length = 12",
    "The secretary keeps the minutes; the tokenizer splits words into tokens.",
    "tokenizer = AutoTokenizer.from_pretrained('gpt2')",
    "self.token = token",
    "token = context.attach(ctx)",
    "api_key=api_key,",
    "client = Client(api_key=settings.OPENAI_API_KEY)",
    "password = getpass.getpass('Password: ')",
    "def login(user: str, password: str | None = None) -> Token:",
    "interface Props { password?: string; token: Token }",
    'token_type = "bearer"',
    'eos_token = "</s>"',
    'pad_token = "[PAD]"',
    "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
    "export API_KEY=${API_KEY:-}",
    "OPENAI_API_KEY=<your-openai-key>",
    "API_KEY=your-api-key-here",
    "PASSWORD=changeme",
    "PASSWORD=********",
    "SECRET=xxxxxxxxxxxxxxxx",
    "password: ''",
    'password = ""',
    "token: null",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    'headers = {"Authorization": f"Bearer {token}"}',
    'curl -H "Authorization: Bearer $TOKEN" https://api.example.com',
    "postgres://localhost:5432/app",
    "https://user@example.com/path",
    "ssh://git@github.com:22/acme/app.git",
    "Token: the smallest unit of text a model reads.",
    "Keep the API key secret: never commit it.",
    "sk-learn is not a key, nor is risk-management-framework-2024-update-notes",
    "PWD=/home/alice/project",
    "pass  # nothing to do",
    "bypass_cache = True",
    "secrets: inherit",
    "session_token_ttl = 3600",
    "x-api-key header",
    "kubectl create secret generic db --from-file=./password.txt",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_survives(text: str) -> None:
    assert Redactor().redact(text) == text


def test_secret_names() -> None:
    for name in (
        "API_KEY", "apiKey", "x-api-key", "OPENAI_API_KEY", "client_secret", "SECRET_KEY_BASE",
        "AWS_SECRET_ACCESS_KEY", "accessToken", "refresh_token", "PGPASSWORD", "db_pwd",
        "DB_PASS", "passphrase", "GOOGLE_CREDENTIALS", "private_key", "github.token", "token2",
    ):  # fmt: skip
        assert is_secret_name(name), name
    for name in (
        "token_count", "max_tokens", "password_hint", "SECRET_NAME", "tokenizer", "secretary",
        "PWD", "pass_through", "eos_token", "next_page_token", "api_key_env", "key", "monkey",
        "tokens", "passwords_file", "is_secret", "use_token",
    ):  # fmt: skip
        assert not is_secret_name(name), name


def test_placeholders() -> None:
    for value in (
        "", "${VAR}", "$VAR", "%VAR%", "{{ vault_pw }}", "<your-key>", "xxx", "****",
        "changeme", "YOUR_TOKEN_HERE", "[REDACTED:secret]", "None", "sk-...abcd",
    ):  # fmt: skip
        assert is_placeholder(value), value
    for value in ("hunter2x", "s3cr3t-Pa55", "AKIA" + "Q" * 3 + "Z7P2MDL4K9WQ3B"):
        assert not is_placeholder(value), value


# -- configuration ------------------------------------------------------------------------


def test_extra_patterns_and_allow_list_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PATTERNS_ENV, r"ACME-[0-9]{6};;employee (?P<secret>\d{5})" + "\n" + r"zz\d+")
    monkeypatch.setenv(ALLOW_ENV, r"sk-test-fixture-[A-Za-z0-9]+" + "\n" + r"zz0")
    r = Redactor.from_env()
    text = (
        "ticket ACME-123456 for employee 55123 (zz42, zz0); "
        "key sk-test-fixture-Ab12Cd34Ef56Gh78Ij90"
    )
    assert r.redact(text) == (
        "ticket [REDACTED:custom] for employee [REDACTED:custom] ([REDACTED:custom], zz0); "
        "key sk-test-fixture-Ab12Cd34Ef56Gh78Ij90"
    )
    # The default redactor reads the environment once, when first used.
    default_redactor.cache_clear()
    assert default_redactor().redact("ACME-000001") == "[REDACTED:custom]"
    assert default_redactor() is default_redactor()
    default_redactor.cache_clear()


def test_allow_list_matches_whole_values_only() -> None:
    token = Fake(1).github()
    assert Redactor(allow=["ghp_"]).redact(token) == "[REDACTED:github-token]"
    assert Redactor(allow=[token]).redact(token) == token


def test_an_invalid_pattern_in_the_environment_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PATTERNS_ENV, "([unclosed;;ACME-[0-9]+")
    with pytest.warns(AgentOtelWarning, match="invalid regular expression"):
        r = Redactor.from_env()
    assert r.redact("ACME-7 ([unclosed") == "[REDACTED:custom] ([unclosed"


def test_importing_agent_otel_compiles_no_redaction_patterns() -> None:
    import subprocess
    import sys

    code = "import sys, agent_otel; print('agent_otel.redaction' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- through the content policy and the public API ------------------------------------------


def test_redaction_comes_before_the_cut() -> None:
    f = Fake(7)
    secret = f.github()
    # The cut at 50 bytes falls in the middle of the token.
    text = "x" * 40 + " " + secret + " tail"
    captured = ContentPolicy(capture=True, max_bytes=50).capture_text(text)
    assert captured is not None
    assert captured.size == len(text)
    assert captured.truncated
    assert secret[:10] not in captured.text and "ghp_" not in captured.text
    assert captured.text == "x" * 40 + " "  # not half a marker either
    whole = ContentPolicy(capture=True, max_bytes=1000).capture_text(text)
    assert whole is not None and not whole.truncated
    assert whole.text == "x" * 40 + " [REDACTED:github-token] tail"
    assert whole.size == len(text)


def test_a_huge_value_is_redacted_where_it_is_cut() -> None:
    f = Fake(8)
    secret = f.anthropic()
    budget = 1000
    filler = "print('hello world')\n" * 20_000  # ~420 KB: only a window is redacted
    text = filler[: budget - 61] + " " + secret + "\n" + filler
    captured = ContentPolicy(capture=True, max_bytes=budget).capture_text(text)
    assert captured is not None and captured.truncated and captured.size == len(text)
    assert secret[:12] not in captured.text
    assert captured.text.startswith(filler[: budget - 61] + " [REDACTED:anthropic-key]\nprint")
    # A private key that shrinks the window below the budget: the whole text is redacted.
    key = f.pem()
    text = key + "\n" + filler
    captured = ContentPolicy(capture=True, max_bytes=200_000).capture_text(text)
    assert captured is not None
    assert captured.text.startswith("[REDACTED:private-key]\nprint")
    assert len(captured.text.encode()) == 200_000


def test_a_policy_can_carry_its_own_redactor() -> None:
    policy = ContentPolicy(capture=True, redactor=Redactor(extra_patterns=[r"ACME-\d+"]))
    captured = policy.capture_text("ACME-42")
    assert captured is not None and captured.text == "[REDACTED:custom]" and captured.size == 7


def _recorded(spans: list) -> str:  # type: ignore[type-arg]
    parts = []
    for span in spans:
        parts.append(repr(dict(span.attributes or {})))
        parts.extend(repr((e.name, dict(e.attributes or {}))) for e in span.events)
    return "\n".join(parts)


def test_secrets_never_reach_exported_spans(tel_content) -> None:  # type: ignore[no-untyped-def]
    f = Fake(9)
    prompt_key, result_pw, cmd_token = f.openai(), f.password(), f.github()
    before_key, after_key, after_pem = f.aws_id(), f.stripe(), f.pem()
    prompt = f"Deploy with OPENAI_API_KEY={prompt_key} and tell me when done."
    result = f'{{"host": "db", "password": "{result_pw}"}}'
    command = f"curl -H 'Authorization: token {cmd_token}' https://api.github.com/user"
    before = f"[default]\naws_access_key_id = {before_key}\nregion = eu-west-1\n"
    after = f"STRIPE_KEY={after_key}\n{after_pem}\nregion = eu-west-1\n"

    with agent_otel.session(user_id="u", initial_prompt=prompt):
        with agent_otel.operation("read", "config.json") as op:
            op.set_result(result)
        with agent_otel.operation("execute", command):
            pass
        with agent_otel.operation("write", ".env") as op:
            change = op.record_change(".env", "modify", before=before, after=after)

    recorded = _recorded(tel_content.spans())
    for secret in (prompt_key, result_pw, cmd_token, before_key, after_key, after_pem):
        assert secret not in recorded
    for line in after_pem.splitlines()[1:-1]:
        assert line not in recorded
    for kind in ("openai-key", "secret", "github-token", "aws-access-key-id", "stripe-key",
                 "private-key"):  # fmt: skip
        assert f"[REDACTED:{kind}]" in recorded
    assert change.after is not None and after_key not in change.after

    session = tel_content.span("agent.session").attributes
    assert session[sc.AGENT_SESSION_INITIAL_PROMPT] == (
        "Deploy with OPENAI_API_KEY=[REDACTED:openai-key] and tell me when done."
    )
    assert session[sc.AGENT_SESSION_INITIAL_PROMPT_SIZE] == len(prompt)
    read = tel_content.span("execute_tool read").attributes
    assert read[sc.AGENT_OPERATION_RESULT] == '{"host": "db", "password": "[REDACTED:secret]"}'
    assert read[sc.AGENT_OPERATION_RESULT_SIZE] == len(result)
    execute = tel_content.span("execute_tool execute").attributes
    assert execute[sc.PROCESS_COMMAND_LINE] == (
        "curl -H 'Authorization: token [REDACTED:github-token]' https://api.github.com/user"
    )
    (event,) = [e for e in tel_content.span("execute_tool write").events]
    a = event.attributes
    assert a[sc.AGENT_CHANGE_BEFORE_SIZE] == len(before)
    assert a[sc.AGENT_CHANGE_AFTER_SIZE] == len(after)
    assert "[REDACTED:aws-access-key-id]" in a[sc.AGENT_CHANGE_DIFF]


# -- speed --------------------------------------------------------------------------------


def _per_call_us(redactor: Redactor, text: str, rounds: int = 200) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            redactor.redact(text)
        best = min(best, (time.perf_counter() - start) / rounds)
    return best * 1e6


def test_speed_on_a_10_kb_source_file(capsys: pytest.CaptureFixture[str]) -> None:
    source = (Path(next(iter(opentelemetry.sdk.__path__))) / "trace" / "__init__.py").read_text()
    clean = source[:10_000]
    redactor = Redactor()
    assert redactor.find(clean) == []
    f = Fake(10)
    lines = clean.splitlines(keepends=True)
    planted = [f.openai(), f.github(), f.aws_id(), f"password = '{f.password()}'", f.jwt()]
    for i, secret in enumerate(planted):
        lines.insert(20 + 30 * i, f"# {secret}\n")
    dirty = "".join(lines)
    assert len(redactor.find(dirty)) == 5
    clean_us, dirty_us = _per_call_us(redactor, clean), _per_call_us(redactor, dirty)
    with capsys.disabled():
        print(f"\nredact 10 KB source: {clean_us:.0f} us without secrets, {dirty_us:.0f} us with 5")
    # Generous: a shared CI machine may be slow; the point is "not milliseconds".
    assert clean_us < 2_000 and dirty_us < 4_000
