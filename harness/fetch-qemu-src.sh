#!/usr/bin/env bash
# Fetch and unpack Debian's QEMU source package for one QEMU version; print the tree's path.
#
#   harness/fetch-qemu-src.sh 10.2.2     -> /var/cache/migmodel/src/qemu-10.2.2  (sid, 1:10.2.2+ds-1)
#   harness/fetch-qemu-src.sh 7.2        -> /var/cache/migmodel/src/qemu-7.2     (bookworm, 1:7.2+dfsg-7+deb12u18)
#
# The source package comes through a PRIVATE apt configuration under $CACHE/apt-src (its own
# sources.list with deb-src lines, lists and package cache): the host's apt sources, lists and
# caches are not changed. `dpkg-source -x` applies Debian's patches (the bare orig tarball does not
# configure: firmware and dtb blobs are stripped from it). The tree is unpacked into a temporary
# directory and renamed into place, so an interrupted run leaves no half tree.
#
# Idempotent: a tree whose debian/changelog names the wanted package version is reused as is;
# the download is skipped when the .dsc is already in $CACHE/apt-src/src.
#
# Environment:
#   MIGMODEL_CACHE   cache root (default /var/cache/migmodel)
#   MIGMODEL_DEBIAN_SRC_MIRROR   mirror for the deb-src lines (default http://deb.debian.org/debian)
#
# Exit codes: 0 tree ready (its path on stdout), 1 download or unpack failed, 2 bad arguments.
set -euo pipefail

CACHE="${MIGMODEL_CACHE:-/var/cache/migmodel}"
MIRROR="${MIGMODEL_DEBIAN_SRC_MIRROR:-http://deb.debian.org/debian}"

log() { printf '[fetch-qemu-src %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ $# -ne 1 ]]; then
    echo "usage: fetch-qemu-src.sh VERSION   (VERSION: 10.2.2 or 7.2)" >&2
    exit 2
fi
VERSION="$1"
case "$VERSION" in
    10.2.2) DEBVER="1:10.2.2+ds-1" ;;
    7.2)    DEBVER="1:7.2+dfsg-7+deb12u18" ;;
    *)
        echo "fetch-qemu-src.sh: unsupported version '$VERSION' (supported: 10.2.2, 7.2)" >&2
        exit 2 ;;
esac
NOEPOCH="${DEBVER#*:}"                 # 10.2.2+ds-1
UPSTREAM="${NOEPOCH%-*}"               # 10.2.2+ds
TREE="$CACHE/src/qemu-$VERSION"
APT="$CACHE/apt-src"
DSC="$APT/src/qemu_${NOEPOCH}.dsc"

tree_ok() {
    [[ -f "$TREE/debian/changelog" && -f "$TREE/VERSION" ]] \
        && head -n1 "$TREE/debian/changelog" | grep -qF "($DEBVER)"
}

if tree_ok; then
    log "$TREE already unpacked (qemu $NOEPOCH)"
    echo "$TREE"
    exit 0
fi
if [[ -e "$TREE" ]]; then
    echo "fetch-qemu-src.sh: $TREE exists but is not qemu $NOEPOCH; move it away first" >&2
    exit 1
fi
for tool in apt-get dpkg-source; do
    if ! command -v "$tool" >/dev/null; then
        echo "fetch-qemu-src.sh: $tool not found (install apt and dpkg-dev)" >&2
        exit 1
    fi
done

mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/src" "$CACHE/src"
if [[ ! -s "$APT/sources.list" ]]; then
    cat > "$APT/sources.list.tmp" <<EOF
deb-src $MIRROR bookworm main
deb-src ${MIRROR%/debian}/debian-security bookworm-security main
deb-src $MIRROR sid main
EOF
    mv "$APT/sources.list.tmp" "$APT/sources.list"
fi
APTOPTS=(
    -o "Dir::Etc::SourceList=$APT/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache=$APT/cache"
    -o "Acquire::Check-Valid-Until=false"
    -o "APT::Sandbox::User=root"
)

if [[ ! -f "$DSC" ]]; then
    if ! compgen -G "$APT/lists/*Sources*" >/dev/null; then
        log "apt-get update (private source lists in $APT)"
        apt-get -qq "${APTOPTS[@]}" update
    fi
    log "apt-get source --download-only qemu=$DEBVER"
    if ! (cd "$APT/src" && apt-get -qq "${APTOPTS[@]}" source --download-only "qemu=$DEBVER"); then
        log "retrying after apt-get update"
        apt-get -qq "${APTOPTS[@]}" update
        (cd "$APT/src" && apt-get -qq "${APTOPTS[@]}" source --download-only "qemu=$DEBVER")
    fi
fi
[[ -f "$DSC" ]] || { echo "fetch-qemu-src.sh: $DSC missing after the download" >&2; exit 1; }

TMP="$CACHE/src/.qemu-$VERSION.tmp.$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
log "dpkg-source -x $(basename "$DSC")"
dpkg-source --no-check -x "$DSC" "$TMP" >&2
mv "$TMP" "$TREE"
trap - EXIT
tree_ok || { echo "fetch-qemu-src.sh: $TREE does not name qemu $NOEPOCH after unpacking" >&2; exit 1; }
# The orig tarball, next to the trees (as dpkg-source leaves it for a later rebuild).
[[ -f "$CACHE/src/qemu_${UPSTREAM}.orig.tar.xz" ]] \
    || cp "$APT/src/qemu_${UPSTREAM}.orig.tar.xz" "$CACHE/src/" 2>/dev/null || true
echo "$TREE"
