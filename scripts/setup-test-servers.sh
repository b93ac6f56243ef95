#!/usr/bin/env bash
# Installs the servers the test suite starts on loopback: Debian's redis-server.
# Fails (rather than letting tests skip) when one cannot be installed.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "setup-test-servers: installing redis-server"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
# Debian's package starts a system-wide server on 6379; the tests start their own on free ports.
redis-server --version
