#!/usr/bin/env bash
# Minimal stand-in (drift branch) for the qemu102 branch's script of the same name and interface:
# fetch Debian's QEMU source package for VERSION (10.2.2 or 7.2), unpack it with Debian's patches
# into $MIGMODEL_CACHE/src/qemu-VERSION (default cache /var/cache/migmodel) and print its path.
# Idempotent: an unpacked tree is reused. Uses a private apt configuration under $CACHE/apt-src.
# Exit codes: 0 tree ready, 1 download or unpack failed, 2 bad arguments.
set -euo pipefail
CACHE="${MIGMODEL_CACHE:-/var/cache/migmodel}"
[[ $# -eq 1 ]] || { echo "usage: fetch-qemu-src.sh VERSION   (10.2.2 or 7.2)" >&2; exit 2; }
case "$1" in
    10.2.2) DEBVER="1:10.2.2+ds-1" ;;
    7.2)    DEBVER="1:7.2+dfsg-7+deb12u18" ;;
    *) echo "fetch-qemu-src.sh: unsupported version '$1' (supported: 10.2.2, 7.2)" >&2; exit 2 ;;
esac
TREE="$CACHE/src/qemu-$1"
APT="$CACHE/apt-src"
DSC="$APT/src/qemu_${DEBVER#*:}.dsc"
if [[ -f "$TREE/VERSION" && -f "$TREE/migration/migration.c" ]]; then echo "$TREE"; exit 0; fi
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/src" "$CACHE/src"
[[ -s "$APT/sources.list" ]] || printf '%s\n' \
    "deb-src http://deb.debian.org/debian bookworm main" \
    "deb-src http://deb.debian.org/debian-security bookworm-security main" \
    "deb-src http://deb.debian.org/debian sid main" > "$APT/sources.list"
OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=root")
if [[ ! -f "$DSC" ]]; then
    apt-get -qq "${OPTS[@]}" update >&2
    (cd "$APT/src" && apt-get -qq "${OPTS[@]}" source --download-only "qemu=$DEBVER" >&2)
fi
TMP="$CACHE/src/.qemu-$1.tmp.$$"
trap 'rm -rf "$TMP"' EXIT
dpkg-source --no-check -x "$DSC" "$TMP" >&2
mv "$TMP" "$TREE"
trap - EXIT
echo "$TREE"
