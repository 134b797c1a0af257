#!/usr/bin/env bash
# Set up the two real QEMU versions that the migmodel harness drives.
#
#  * QEMU 7.2 from the host's Debian 12 packages (qemu-system-x86).
#  * QEMU 11.1 from Debian sid, installed into a minimal debootstrap chroot so that no
#    sid package enters the host (see docs/real-qemu.md, "Environment and setup").
#  * With --with-10.2: QEMU 10.2.2 built from Debian's source package (harness/fetch-qemu-src.sh)
#    with debug info, cached under $MIGMODEL_BUILD_DIR/qemu-10.2.2 (keyed by version), run
#    through harness/qemu-10.2; QEMU's own tests/qtest/migration-test is built in the same tree.
#  * With --with-10.0: QEMU 10.0.2 from Debian bookworm-backports (1:10.0.2+ds-2+deb13u1~bpo12+1),
#    installed into a second minimal debootstrap chroot (Debian 12 + backports, the backports
#    entry inside the chroot only), mounted like the sid one, run through harness/qemu-10.0.
#
# Idempotent: every step checks whether it is already done and skips it. Safe to re-run,
# also after a reboot (the mounts are re-created).
#
# Environment:
#   MIGMODEL_QEMU_ROOT   chroot directory (default /var/cache/migmodel/sid)
#   MIGMODEL_RUN_DIR     run directory shared by both QEMUs, bind-mounted into the chroot at the
#                        same path (default /var/cache/migmodel/run)
#   MIGMODEL_DEBIAN_MIRROR  Debian mirror for debootstrap (default: the first ".../debian" URI of
#                        the host's own apt configuration)
#   MIGMODEL_SKIP_APT_UPDATE=1  do not run apt-get update on the host
#   MIGMODEL_VENV        virtual environment that gets qemu.qmp (default: the repo's .venv)
#   MIGMODEL_BUILD_DIR   where self-built QEMUs live (default /var/cache/migmodel/build)
#   MIGMODEL_QEMU100_ROOT  the 10.0 chroot (default /var/cache/migmodel/bookworm)
#
# Usage:  harness/setup-qemu.sh [--with-10.2] [--with-10.0]
# Undo the mounts with:  harness/setup-qemu.sh --umount
set -euo pipefail

ROOT="${MIGMODEL_QEMU_ROOT:-/var/cache/migmodel/sid}"
ROOT100="${MIGMODEL_QEMU100_ROOT:-/var/cache/migmodel/bookworm}"
RUN="${MIGMODEL_RUN_DIR:-/var/cache/migmodel/run}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[setup-qemu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

is_mounted() { mountpoint -q "$1" 2>/dev/null; }

umount_root() {
    local r="$1" m
    for m in "$r$RUN" "$r/tmp" "$r/sys" "$r/proc"; do
        if is_mounted "$m"; then umount "$m" && log "unmounted $m"; fi
    done
    if is_mounted "$r/dev"; then umount -R "$r/dev" && log "unmounted $r/dev"; fi
}

umount_all() {
    umount_root "$ROOT"
    umount_root "$ROOT100"
}

# The mounts a chroot's QEMU needs: /proc, /dev (rbind, so /dev/userfaultfd and /dev/shm are
# visible), /sys, and the shared run directory and /tmp at the same paths as on the host.
mount_root() {
    local r="$1"
    is_mounted "$r/proc" || mount -t proc proc "$r/proc"
    if ! is_mounted "$r/dev"; then
        mount --rbind /dev "$r/dev"
        mount --make-rslave "$r/dev"
    fi
    is_mounted "$r/sys" || mount -t sysfs sys "$r/sys"
    mkdir -p "$RUN" "$r$RUN" "$r/tmp"
    is_mounted "$r$RUN" || mount --bind "$RUN" "$r$RUN"
    is_mounted "$r/tmp" || mount --bind /tmp "$r/tmp"
}

if [[ "${1:-}" == "--umount" ]]; then
    umount_all
    exit 0
fi

WITH_102=0
WITH_100=0
for arg in "$@"; do
    case "$arg" in
        --with-10.2) WITH_102=1 ;;
        --with-10.0) WITH_100=1 ;;
        *)
            echo "setup-qemu.sh: unknown argument '$arg' (use --with-10.2, --with-10.0 or --umount)" >&2
            exit 2
            ;;
    esac
done

if [[ $EUID -ne 0 ]]; then
    echo "setup-qemu.sh: must run as root (apt-get, debootstrap, mount)" >&2
    exit 1
fi

find_mirror() {
    if [[ -n "${MIGMODEL_DEBIAN_MIRROR:-}" ]]; then
        echo "$MIGMODEL_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    if [[ -z "$uri" ]]; then
        uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    fi
    if [[ -z "$uri" ]]; then
        echo "setup-qemu.sh: no Debian mirror found in the host apt config; set MIGMODEL_DEBIAN_MIRROR" >&2
        exit 1
    fi
    echo "${uri%/}"
}

t0=$(date +%s)

# 1. Host: QEMU 7.2 and debootstrap.
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null; then
    if [[ "${MIGMODEL_SKIP_APT_UPDATE:-0}" != 1 ]]; then
        log "apt-get update (host)"
        apt-get update -qq
    fi
    log "installing qemu-system-x86 debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-system-x86 debootstrap >/dev/null
else
    log "host qemu-system-x86_64 and debootstrap already installed"
fi

# 2. sid chroot.
mkdir -p "$(dirname "$ROOT")"
if [[ ! -x "$ROOT/bin/sh" || ! -f "$ROOT/.migmodel-debootstrap-done" ]]; then
    if is_mounted "$ROOT/dev" || is_mounted "$ROOT/proc"; then
        echo "setup-qemu.sh: $ROOT is half-built but mounted; run '$0 --umount' and remove it" >&2
        exit 1
    fi
    MIRROR=$(find_mirror)
    log "debootstrap --variant=minbase sid $ROOT (mirror from host apt config)"
    rm -rf "$ROOT"
    debootstrap --variant=minbase sid "$ROOT" "$MIRROR" >/dev/null
    touch "$ROOT/.migmodel-debootstrap-done"
else
    log "chroot $ROOT already bootstrapped"
fi

# 3. Mounts: /proc, /dev (rbind, so /dev/userfaultfd and /dev/shm are visible), /sys.
is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
if ! is_mounted "$ROOT/dev"; then
    mount --rbind /dev "$ROOT/dev"
    mount --make-rslave "$ROOT/dev"
fi
is_mounted "$ROOT/sys" || mount -t sysfs sys "$ROOT/sys"

# 4. QEMU 11.1 inside the chroot. The sid snapshot's Release file may have expired relative to
#    the machine's clock, hence Check-Valid-Until=false.
if [[ ! -x "$ROOT/usr/bin/qemu-system-x86_64" ]]; then
    log "apt-get update (chroot, Check-Valid-Until=false)"
    chroot "$ROOT" apt-get -qq -o Acquire::Check-Valid-Until=false update
    log "installing qemu-system-x86 in the chroot"
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
else
    log "chroot qemu-system-x86_64 already installed"
fi

# 5. The shared run directory, at the same path inside the chroot.
mkdir -p "$RUN" "$ROOT$RUN"
is_mounted "$ROOT$RUN" || mount --bind "$RUN" "$ROOT$RUN"
# /tmp too, so pytest tmp dirs can be used as run directories by both QEMUs.
mkdir -p "$ROOT/tmp"
is_mounted "$ROOT/tmp" || mount --bind /tmp "$ROOT/tmp"

chmod +x "$HERE/qemu-11.1" 2>/dev/null || true

# 6. The QMP library the harness uses, in the project's virtual environment if there is one
#    (pyproject extra "harness"). Set MIGMODEL_VENV to use another one.
VENV="${MIGMODEL_VENV:-$HERE/../.venv}"
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import qemu.qmp' 2>/dev/null; then
    log "pip install qemu.qmp into $VENV"
    "$VENV/bin/pip" install -q 'qemu.qmp>=0.0.3'
fi

# 7. (--with-10.2) QEMU 10.2.2 built from Debian's source package, see build_qemu_102.
build_qemu_102() {
    local builddir="${MIGMODEL_BUILD_DIR:-/var/cache/migmodel/build}"
    local top="$builddir/qemu-10.2.2" bin tb
    bin="$top/build/qemu-system-x86_64"
    if [[ -x "$bin" && -x "$top/build/tests/qtest/migration-test" && -f "$top/.migmodel-build-done" ]] \
        && "$bin" --version >/dev/null 2>&1; then
        log "QEMU 10.2.2 already built: $bin"
        return 0
    fi
    # Build dependencies and the firmware (SeaBIOS, option ROMs) the build does not make.
    local deps=(libglib2.0-dev libpixman-1-dev flex bison libfdt-dev ninja-build gcc pkg-config
                python3-venv dpkg-dev seabios qemu-system-data ipxe-qemu)
    local missing=()
    for p in "${deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing build dependencies: ${missing[*]}"
        [[ "${MIGMODEL_SKIP_APT_UPDATE:-0}" == 1 ]] || apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    local src
    src=$("$HERE/fetch-qemu-src.sh" 10.2.2)
    mkdir -p "$builddir"
    # A private copy of the tree (the unpacked source stays pristine; meson writes into it).
    if [[ ! -f "$top/configure" ]]; then
        log "copying $src to $top"
        rm -rf "$top.tmp"
        cp -a "$src" "$top.tmp"
        mv "$top.tmp" "$top"
    fi
    # meson >= 1.5 (QEMU 10.2's pythondeps.toml) from PyPI in a private venv; configure's own
    # pyvenv inherits it.
    local mvenv="$builddir/meson-venv"
    if ! "$mvenv/bin/python3" -c 'import mesonbuild' 2>/dev/null; then
        log "meson from PyPI into $mvenv"
        python3 -m venv "$mvenv"
        "$mvenv/bin/pip" install -q 'meson>=1.5,<2'
    fi
    tb=$(date +%s)
    if [[ ! -f "$top/build/build.ninja" ]]; then
        log "configure (x86_64-softmmu, TCG, debug info)"
        rm -rf "$top/build"
        mkdir -p "$top/build"
        (cd "$top/build" && ../configure --python="$mvenv/bin/python3" \
            --target-list=x86_64-softmmu --without-default-features --enable-tcg \
            --disable-docs --disable-install-blobs --disable-download --enable-debug-info \
            >configure.log 2>&1) || { tail -n 20 "$top/build/configure.log" >&2; return 1; }
    fi
    log "ninja qemu-system-x86_64 tests/qtest/migration-test (log: $top/build/ninja.log.txt)"
    (cd "$top/build" && ninja qemu-system-x86_64 tests/qtest/migration-test >ninja.log.txt 2>&1) \
        || { tail -n 20 "$top/build/ninja.log.txt" >&2; return 1; }
    # Firmware: QEMU looks in <build>/qemu-bundle/usr/local/share/qemu first when run from the
    # build tree. Debian's SeaBIOS, qemu-system-data and iPXE ROMs, first one found wins.
    local fw="$top/build/qemu-bundle/usr/local/share/qemu" f
    mkdir -p "$fw"
    for f in /usr/share/seabios/* /usr/share/qemu/* /usr/lib/ipxe/qemu/*; do
        local to="$fw/$(basename "$f")"
        if [[ -f "$f" && ! -e "$to" && ! -L "$to" && "$(basename "$f")" != trace-events-all ]]; then
            ln -s "$f" "$to"
        fi
    done
    "$bin" --version >/dev/null
    touch "$top/.migmodel-build-done"
    log "QEMU 10.2.2 built in $(( $(date +%s) - tb )) s: $bin"
}
if ((WITH_102)); then
    build_qemu_102
    chmod +x "$HERE/qemu-10.2" 2>/dev/null || true
fi

# 8. (--with-10.0) QEMU 10.0.2 from bookworm-backports in its own Debian 12 chroot. The
#    backports entry is written inside the chroot only; the host's apt sources stay as they are.
setup_qemu_100() {
    local mirror
    if [[ ! -x "$ROOT100/bin/sh" || ! -f "$ROOT100/.migmodel-debootstrap-done" ]]; then
        if is_mounted "$ROOT100/dev" || is_mounted "$ROOT100/proc"; then
            echo "setup-qemu.sh: $ROOT100 is half-built but mounted; run '$0 --umount' and remove it" >&2
            exit 1
        fi
        mirror=$(find_mirror)
        log "debootstrap --variant=minbase bookworm $ROOT100 (mirror from host apt config)"
        rm -rf "$ROOT100"
        debootstrap --variant=minbase bookworm "$ROOT100" "$mirror" >/dev/null
        touch "$ROOT100/.migmodel-debootstrap-done"
    else
        log "chroot $ROOT100 already bootstrapped"
    fi
    mount_root "$ROOT100"
    if [[ ! -x "$ROOT100/usr/bin/qemu-system-x86_64" ]]; then
        mirror=$(find_mirror)
        echo "deb $mirror bookworm-backports main" >"$ROOT100/etc/apt/sources.list.d/backports.list"
        log "apt-get update (10.0 chroot, with bookworm-backports)"
        chroot "$ROOT100" apt-get -qq update
        log "installing qemu-system-x86 from bookworm-backports in the 10.0 chroot"
        chroot "$ROOT100" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq -t bookworm-backports --no-install-recommends qemu-system-x86 >/dev/null
    else
        log "10.0 chroot qemu-system-x86_64 already installed"
    fi
    chmod +x "$HERE/qemu-10.0" 2>/dev/null || true
}
if ((WITH_100)); then
    setup_qemu_100
fi

log "done in $(( $(date +%s) - t0 )) s"
echo "host:   $(qemu-system-x86_64 --version | head -n1)"
echo "chroot: $("$HERE/qemu-11.1" --version | head -n1)"
if ((WITH_102)); then
    echo "built:  $("$HERE/qemu-10.2" --version | head -n1)"
fi
if ((WITH_100)); then
    echo "10.0:   $("$HERE/qemu-10.0" --version | head -n1)"
fi
