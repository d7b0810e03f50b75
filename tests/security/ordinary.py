"""Ordinary text that holds no secret, to measure how much the redactor hides wrongly.

Three kinds, each measured on its own:

* **installed**: real files present wherever the tests run — the Python standard library
  (its own tests excluded: they hold real test keys), the Python sources of the libraries
  agent-otel depends on and instruments (OpenTelemetry, openai, anthropic, rich), their
  markdown API references, and this repository's documentation, shell scripts and YAML;
* **look-alikes**: values shaped like secrets that are not — git commit hashes, UUIDs, hex
  digests (MD5 to SHA-512) and base64 images, each in the places they are written (``git
  log``, lock files, ``sha256sum`` output, Docker digests, ETags, ``data:`` URIs), generated
  from a seeded RNG;
* **near misses**: lines written for this test that use the words secrets are found by —
  token, password, key, secret, auth, credential — in JavaScript, TypeScript, shell,
  markdown, YAML, SQL, Go and Python, without holding one.

Every finding in them is a false positive.
"""

from __future__ import annotations

import base64
import hashlib
import random
import sysconfig
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_STDLIB_TESTS = {"test", "tests", "idle_test", "site-packages", "__pycache__"}
_PACKAGES = ("opentelemetry", "openai", "anthropic", "rich")


@dataclass(frozen=True)
class Sample:
    kind: str  # "installed", "look-alike", "near miss"
    category: str
    name: str
    text: str


def installed() -> Iterator[Sample]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if not _STDLIB_TESTS & set(path.relative_to(stdlib).parts):
            yield _read("python (stdlib)", path)
    site = Path(sysconfig.get_paths()["purelib"])
    for package in _PACKAGES:
        for path in sorted((site / package).rglob("*.py")):
            yield _read("python (dependencies)", path)
        for path in sorted((site / package).rglob("*.md")):
            yield _read("markdown", path)
    for pattern, category in (("*.md", "markdown"), ("*.sh", "shell"), ("*.y*ml", "yaml")):
        for path in sorted(REPO.rglob(pattern)):
            parts = set(path.relative_to(REPO).parts)
            if not parts & {".venv", "tests", ".pytest_cache", "node_modules", ".git"}:
                yield _read(category, path)


def _read(category: str, path: Path) -> Sample:
    return Sample("installed", category, path.name, path.read_text("utf-8", errors="replace"))


def look_alikes(seed: int = 7, count: int = 200) -> Iterator[Sample]:
    rng = random.Random(seed)

    def blob(n: int) -> bytes:
        return rng.randbytes(n)

    for i in range(count):
        sha1 = hashlib.sha1(blob(16)).hexdigest()
        yield Sample("look-alike", "git hash", f"commit-{i}", f"commit {sha1}\nMerge: {sha1[:7]}")
        yield Sample("look-alike", "git hash", f"oneline-{i}", f"{sha1[:12]} Fix flaky test")
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        yield Sample(
            "look-alike", "uuid", f"uuid-{i}", f'{{"request_id": "{u}", "trace": "{u.hex}"}}'
        )
        yield Sample("look-alike", "uuid", f"uuid-log-{i}", f"session_token_id={u} user=alice")
        data = blob(32)
        md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
        sha512 = hashlib.sha512(data).hexdigest()
        integrity = base64.b64encode(hashlib.sha512(data).digest()).decode()
        for name, line in (
            ("sha256sum", f"{sha256}  dist/shop-1.4.{i}.tar.gz"),
            ("md5", f'ETag: "{md5}"'),
            ("pip", f"requests==2.32.{i} --hash=sha256:{sha256}"),
            ("docker", f"FROM python:3.12-slim@sha256:{sha256}"),
            ("npm", f'"integrity": "sha512-{integrity}",'),
            ("sha512", f"SHA512 ({i}.iso) = {sha512}"),
            ("checksum", f'checksum = "{sha256}"'),
        ):
            yield Sample("look-alike", "hex digest", f"{name}-{i}", line)
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + blob(rng.randint(60, 400))
        image = base64.b64encode(png).decode()
        yield Sample(
            "look-alike", "base64 image", f"md-{i}", f"![logo](data:image/png;base64,{image})"
        )
        yield Sample(
            "look-alike",
            "base64 image",
            f"css-{i}",
            f"background: url('data:image/png;base64,{image}');",
        )
        yield Sample(
            "look-alike",
            "base64 image",
            f"json-{i}",
            f'{{"type": "image", "source": {{"type": "base64", "data": "{image}"}}}}',
        )


NEAR_MISSES: dict[str, list[str]] = {
    "javascript": [
        "const token = await getToken();",
        "const { data: session } = useSession(); if (!session?.accessToken) return null;",
        "headers: { Authorization: `Bearer ${token}` },",
        "localStorage.setItem('token', response.data.token);",
        "if (password.length < 12) throw new Error('password too short');",
        "export const API_KEY_HEADER = 'x-api-key';",
        "const secret = process.env.JWT_SECRET;",
        "passport.use(new LocalStrategy({ usernameField: 'email', passwordField: 'password' }));",
        "const tokens = tokenizer.encode(text); console.log(tokens.length);",
        "res.cookie('refreshToken', refreshToken, { httpOnly: true, secure: true });",
        "auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS },",
        "const hash = await bcrypt.hash(password, 12);",
    ],
    "typescript": [
        "interface Credentials { username: string; password: string; apiKey?: string }",
        "type TokenResponse = { access_token: string; expires_in: number };",
        "function verify(token: string, secret: Secret): JwtPayload | null {",
        "private readonly apiKey: string = config.get<string>('openai.apiKey');",
        "export enum TokenType { Access = 'access', Refresh = 'refresh' }",
    ],
    "shell": [
        'export GITHUB_TOKEN="$(gh auth token)"',
        'curl -H "Authorization: Bearer $API_TOKEN" "$BASE_URL/v1/items"',
        'read -rsp "Password: " PASSWORD && echo',
        "kubectl get secret db-credentials -o jsonpath='{.data.password}' | base64 -d",
        "ssh-keygen -t ed25519 -C ci@acme.dev -f ~/.ssh/id_ed25519 -N ''",
        "aws secretsmanager get-secret-value --secret-id prod/shop/db --query SecretString",
        "PASSWORD_FILE=/run/secrets/db_password ./start.sh",
        'docker login -u "$REGISTRY_USER" --password-stdin < "$TOKEN_FILE"',
        "gpg --armor --export-secret-keys ABCD1234 > private.asc",
        "export TOKENIZERS_PARALLELISM=false",
    ],
    "markdown": [
        "Set `OPENAI_API_KEY` in your environment; never commit your API key.",
        "| `token` | string | The access token returned by `/oauth/token`. |",
        "The password must be at least 12 characters long and contain a digit.",
        "1. Create a personal access token with the `repo` scope.",
        "> **Note**: tokens expire after 90 days; rotate them with `gh auth refresh`.",
        "See [Authentication](docs/auth.md#api-keys) for how keys are scoped.",
        "The `max_tokens` parameter limits the length of the completion.",
        "Secrets are injected by the CI as environment variables.",
    ],
    "yaml": [
        "password: ${DB_PASSWORD}",
        "token: '{{ vault_token }}'",
        "secretName: shop-tls",
        "apiKeySecretRef:\n  name: openai\n  key: api-key",
        "env:\n  - name: API_KEY\n    valueFrom:\n      secretKeyRef: {name: openai, key: api-key}",
        "permissions:\n  id-token: write\n  contents: read",
        "auth:\n  type: oauth2\n  tokenUrl: https://auth.acme.dev/oauth/token",
        "max_tokens: 4096",
    ],
    "sql": [
        "SELECT id, email, password_hash FROM users WHERE email = %s;",
        "ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;",
        "CREATE INDEX ON sessions (token_hash);",
        "UPDATE users SET password = crypt($1, gen_salt('bf')) WHERE id = $2;",
    ],
    "go": [
        'token := r.Header.Get("Authorization")',
        'apiKey := os.Getenv("OPENAI_API_KEY")',
        "if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {",
        'type Config struct { Token string `yaml:"token"`; Secret string `yaml:"secret"` }',
    ],
    "python": [
        "token = request.headers.get('Authorization', '').removeprefix('Bearer ')",
        "api_key = os.environ['OPENAI_API_KEY']",
        "password = getpass.getpass(prompt='Password: ')",
        "secret_key = settings.SECRET_KEY",
        "def authenticate(self, token: str) -> User | None:",
        "client = OpenAI(api_key=api_key, base_url=base_url)",
        "tokens = tiktoken.get_encoding('cl100k_base').encode(text)",
        "if not check_password(password, user.password_hash):",
        "TOKEN_EXPIRY = timedelta(hours=1)",
        "self.access_token, self.refresh_token = tokens['access'], tokens['refresh']",
        "usage = {'prompt_tokens': 120, 'completion_tokens': 45, 'total_tokens': 165}",
    ],
}


def near_misses() -> Iterator[Sample]:
    for category, lines in NEAR_MISSES.items():
        for i, line in enumerate(lines):
            yield Sample("near miss", category, f"{category}-{i}", line)
