#!/bin/sh
# Installs the Debian packages ajar needs to build and test, if any is missing.
# Idempotent and quiet when everything is present; uses sudo when not root.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-dev
libjansson-dev libsodium-dev libpcre2-dev libutf8proc-dev
libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
