#!/usr/bin/env bash
# Build, once, the real programs the collector tests run, with this machine's Go toolchain:
#
#   OTELCOL  an OpenTelemetry Collector made by the Collector Builder (ocb) from
#            collector-config/builder-config.yaml;
#   JAEGER   Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger).
#
# Binaries are cached outside the checkout, in ${AGENT_OTEL_BACKENDS_CACHE:-~/.cache/agent-otel/
# backends}, under a key made of the manifest, the versions below and the Go version, because CI
# builds from a fresh clone: a warm cache makes this script take a second. It prints one line
# per binary, `OTELCOL=/path` and `JAEGER=/path`, which tests/collector reads.
#
#   scripts/backends.sh           build what is missing, then print the paths
#   scripts/backends.sh --check   print the paths if both are built, else say what is missing
#                                 on stderr and exit 1; never builds (what the tests call)
#
# Environment:
#   AGENT_OTEL_BACKENDS_CACHE  cache directory (default above)
#   AGENT_OTEL_OTELCOL_SKIP    space-separated manifest modules (the part after
#                              opentelemetry-collector-contrib/) left out of the build; default
#                              receiver/otlpjsonfilereceiver, which the Go module proxy this
#                              project's machines use does not serve at any version that goes
#                              with the others. Set it to "" where the proxy serves it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/collector-config/builder-config.yaml"
cache="${AGENT_OTEL_BACKENDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-otel/backends}"
skip="${AGENT_OTEL_OTELCOL_SKIP-receiver/otlpjsonfilereceiver}"

# The builder's release is the one of the components in the manifest.
builder_version=v0.161.0
# Jaeger tags each v2 release twice on one commit, v2.x and v1.y; its module path has no /v2
# suffix, so the Go proxy serves only the v1 tag. v1.76.0 is v2.13.0 (cmd/jaeger is the v2
# binary there). `@latest` cannot be installed directly because Jaeger's go.mod has a replace
# directive; it is rebuilt here inside a small module that carries the same replace.
jaeger_module_version=v1.76.0
jaeger_version=v2.13.0
jaeger_replace="github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0"

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "backends.sh: the Go toolchain (go) is not on PATH" >&2
  exit 1
fi
go_version="$(go env GOVERSION)"

# The manifest without its comments and the skipped modules: what is actually built (so that
# editing a comment does not cost a rebuild).
effective_manifest() {
  local pattern='^[[:space:]]*(#|$)'
  for module in $skip; do
    pattern+="|/${module//./\\.} "
  done
  grep -Ev -- "$pattern" "$manifest"
}

key() { sha256sum | cut -c1-16; }
otelcol_dir="$cache/otelcol-$({ effective_manifest; echo "$builder_version $go_version"; } | key)"
otelcol="$otelcol_dir/otelcol-agent-otel"
jaeger_dir="$cache/jaeger-$(echo "$jaeger_module_version $jaeger_replace $go_version" | key)"
jaeger="$jaeger_dir/jaeger"

if $check_only; then
  missing=0
  for binary in "$otelcol" "$jaeger"; do
    if [ ! -x "$binary" ]; then
      echo "backends.sh: $binary is not built; run scripts/backends.sh" >&2
      missing=1
    fi
  done
  [ "$missing" -eq 0 ] || exit 1
  echo "OTELCOL=$otelcol"
  echo "JAEGER=$jaeger"
  exit 0
fi

mkdir -p "$cache"
# One build at a time per cache (CI and a developer may share one machine).
exec 9>"$cache/.lock"
flock 9

# Builds happen in a scratch directory that is renamed into place only when complete, so an
# interrupted build never leaves a binary that looks finished.
scratch=""
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT

build_otelcol() {
  local tools="$cache/tools/builder-$builder_version-$go_version"
  if [ ! -x "$tools/builder" ]; then
    echo "backends.sh: installing the Collector Builder $builder_version" >&2
    GOBIN="$tools" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version"
  fi
  scratch="$(mktemp -d "$cache/.otelcol.XXXXXX")"
  effective_manifest >"$scratch/builder-config.yaml"
  for module in $skip; do
    echo "backends.sh: building the Collector without $module (AGENT_OTEL_OTELCOL_SKIP)" >&2
  done
  echo "backends.sh: building the Collector (takes minutes on a cold cache)" >&2
  (cd "$scratch" && CGO_ENABLED=0 "$tools/builder" --config builder-config.yaml >build.log 2>&1) || {
    tail -n 40 "$scratch/build.log" >&2
    exit 1
  }
  mkdir "$scratch/out"
  mv "$scratch/otelcol-agent-otel/otelcol-agent-otel" "$scratch/out/"
  cp "$scratch/builder-config.yaml" "$scratch/out/"
  mv "$scratch/out" "$otelcol_dir"
  rm -rf "$scratch"
  scratch=""
}

build_jaeger() {
  scratch="$(mktemp -d "$cache/.jaeger.XXXXXX")"
  echo "backends.sh: building Jaeger $jaeger_version ($jaeger_module_version; takes minutes)" >&2
  (
    cd "$scratch"
    go mod init agent-otel.local/jaeger-build
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$jaeger_module_version"
    go mod edit -replace "$jaeger_replace"
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -o out/jaeger \
      -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$jaeger_version" \
      github.com/jaegertracing/jaeger/cmd/jaeger
  ) >"$scratch/build.log" 2>&1 || {
    tail -n 40 "$scratch/build.log" >&2
    exit 1
  }
  mv "$scratch/out" "$jaeger_dir"
  rm -rf "$scratch"
  scratch=""
}

# Builds of an older manifest or version are not used again: drop them after a new build.
prune() {
  local kind="$1" keep="$2"
  for old in "$cache/$kind"-*; do
    if [ -d "$old" ] && [ "$old" != "$keep" ]; then
      rm -rf "$old"
    fi
  done
}

if [ ! -x "$otelcol" ]; then
  build_otelcol
  prune otelcol "$otelcol_dir"
fi
if [ ! -x "$jaeger" ]; then
  build_jaeger
  prune jaeger "$jaeger_dir"
fi

echo "OTELCOL=$otelcol"
echo "JAEGER=$jaeger"
