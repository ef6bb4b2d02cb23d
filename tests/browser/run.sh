#!/bin/sh
# tests/browser/run.sh - the browser tests of the web pages: the chat page
# (chat_page.test.mjs) and the access form and admin console
# (admin_console.test.mjs).
#
# Installs what is missing, then runs `node --test` here:
#   - Debian's Chromium (apt-get install chromium) if /usr/bin/chromium is
#     absent; playwright-core drives it through executablePath, so no browser
#     is downloaded;
#   - node and npm (apt) if absent;
#   - playwright-core from package-lock.json (npm ci) if node_modules is
#     missing or older than the lock file.
#
# Usage: tests/browser/run.sh [AJAR_BIN]
#   AJAR_BIN       the ajar binary (argument or env; default build/release/ajar)
#   AJAR_FIXTURES  fixtures folder (default ../shared/fixtures beside the checkout)
#   CHROMIUM       browser binary (default /usr/bin/chromium)
#   SCREENSHOT_DIR save screenshots of the page there (optional)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -gt 0 ]; then
	AJAR_BIN=$1
fi
AJAR_BIN=${AJAR_BIN:-$root/build/release/ajar}
case $AJAR_BIN in /*) ;; *) AJAR_BIN=$(pwd)/$AJAR_BIN ;; esac
export AJAR_BIN
export AJAR_FIXTURES="${AJAR_FIXTURES:-$root/../shared/fixtures}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

sudo=
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$CHROMIUM" ]; then
	echo "run.sh: installing chromium" >&2
	apt_install chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "run.sh: installing nodejs and npm" >&2
	apt_install nodejs npm
fi

cd "$here"
if [ ! -f node_modules/playwright-core/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "run.sh: npm ci" >&2
	npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x "$AJAR_BIN" ]; then
	echo "run.sh: no ajar binary at $AJAR_BIN (build it, or pass its path)" >&2
	exit 1
fi
exec node --test
