#!/usr/bin/env bash
# Installs what the test suite starts on loopback: Debian's redis-server, Debian's postgresql-15 (the
# tests make throwaway clusters with its initdb), and Debian's chromium (the
# monitor's browser tests drive it with playwright-core; Playwright's own downloads cannot be had),
# and builds the two MongoDB wire-protocol test servers: mongo-java-server (Maven Central) and
# FerretDB v1 embedded in a small Go program (Go module proxy).
# Fails (rather than letting tests skip) when one cannot be installed.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then missing+=(redis-server); fi
if [ ! -x "${SKQ_CHROMIUM:-/usr/bin/chromium}" ]; then missing+=(chromium); fi
pg_bin="${SKQ_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$pg_bin/postgres" ] || [ ! -x "$pg_bin/initdb" ]; then missing+=(postgresql-15); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-test-servers: installing ${missing[*]}"
  # Debian's postgresql-common would make and start a system-wide cluster on 5432: the tests make their own.
  as_root mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"${SKQ_CHROMIUM:-/usr/bin/chromium}" --version
# Debian's package starts a system-wide server on 6379; the tests start their own on free ports.
redis-server --version
"$pg_bin/postgres" --version

# No real mongod can be had here: the MongoDB suites run against these two instead.
root="$(cd "$(dirname "$0")/.." && pwd)"
servers="$root/internal/testing/mongo-servers"
if [ ! -f "$servers/java/target/classes/skunq/testing/MongoTestServer.class" ] || [ ! -d "$servers/java/target/lib" ]; then
  command -v mvn >/dev/null 2>&1 || { echo "setup-test-servers: Maven (mvn) is required to build mongo-java-server" >&2; exit 1; }
  echo "setup-test-servers: building mongo-java-server"
  (cd "$servers/java" && mvn -q -B package -DskipTests)
fi
if [ ! -x "$servers/ferretdb/bin/ferretdb-test-server" ]; then
  command -v go >/dev/null 2>&1 || { echo "setup-test-servers: Go is required to build the FerretDB test server" >&2; exit 1; }
  echo "setup-test-servers: building the FerretDB v1 test server"
  (cd "$servers/ferretdb" && go build -o bin/ferretdb-test-server .)
fi
echo "setup-test-servers: mongo-java-server and FerretDB test servers ready"
