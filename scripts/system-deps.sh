#!/usr/bin/env bash
# Debian packages the test suite needs on a fresh machine:
#   bubblewrap - the sandbox that reruns student code
#   chromium   - the headless browser that opens the class overview in tests
#   postgresql - a throw-away server for the gradebook's and review desk's PostgreSQL tests
# Installs only what is missing; needs root or sudo and apt-get.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
  || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: apt-get not found; install ${missing[*]} yourself (tests that need them are skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "warning: not root and no sudo; install ${missing[*]} yourself" >&2
    exit 0
  fi
fi
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
