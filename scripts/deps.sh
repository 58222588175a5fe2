#!/usr/bin/env bash
# Installs what heed needs to build, test and run, when it is missing:
# Go (checked, not installed), the module cache, gcc (for go test -race)
# and redis-server (Debian's package). Extras: `scripts/deps.sh chromium`
# (the page tests; make test asks for it), `scripts/deps.sh wrk` (load
# tests). Safe to run again: it only installs what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: %s\n' "$*" >&2; exit 1; }

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing: install the packages named above as root"
  sudo=(sudo)
fi

apt_updated=
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* with this system's package manager"
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  say "installing $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# version_ge A B: A >= B, for dotted versions.
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

# Go: heed needs the version go.mod names. Any Go from 1.21 on fetches that
# toolchain by itself through the module proxy (GOTOOLCHAIN=auto).
export PATH="/usr/local/go/bin:$PATH"
want_go=$(awk '$1 == "go" { print $2; exit }' go.mod)
command -v go >/dev/null 2>&1 ||
  die "Go not found: install Go $want_go or newer (https://go.dev/doc/install) so that /usr/local/go/bin/go exists"
have_go=$(GOTOOLCHAIN=local go env GOVERSION | sed 's/^go//')
version_ge "$have_go" 1.21 ||
  die "Go $have_go is too old to fetch Go $want_go by itself: install Go $want_go (https://go.dev/doc/install)"
version_ge "$have_go" "$want_go" ||
  say "Go $have_go found; go will fetch Go $want_go, which go.mod asks for"

# The race detector needs cgo, hence a C compiler.
command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev

go mod download

# redis-server: heed serve starts a private one when HEED_REDIS is unset, and
# the tests start their own. asynq needs Redis 6.2 or newer.
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi
redis_version=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
if [ -n "$redis_version" ] && ! version_ge "$redis_version" 6.2; then
  die "redis-server $redis_version is too old: heed needs 6.2 or newer (or set HEED_REDIS to a newer Redis)"
fi

for extra in "$@"; do
  case "$extra" in
    wrk) command -v wrk >/dev/null 2>&1 || apt_install wrk ;;
    chromium)
      # The page tests (/me, /console) drive a headless Chromium; a Chinese
      # font makes the pages' screenshots show their Chinese text.
      if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
        apt_install chromium
      fi
      if command -v dpkg >/dev/null 2>&1 && ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then
        apt_install fonts-wqy-microhei
      fi
      ;;
    *) die "unknown extra '$extra' (known: wrk, chromium)" ;;
  esac
done
