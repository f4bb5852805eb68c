#!/usr/bin/env bash
# Check the Debian package the way a new user meets it: install it into a clean, minimal Debian
# (made with debootstrap) with apt, which fetches its dependencies; run the smoke test from the
# installed launcher as an ordinary user; check the first start wrote only to that user's folders;
# uninstall; and check nothing is left behind. See docs/packaging.md.
# Usage (as root, on Debian or Ubuntu, with debootstrap installed and the Debian mirror reachable):
#   scripts/check_package.sh [build/synthscope_VERSION_ARCH.deb]
#   SUITE=trixie MIRROR=http://deb.debian.org/debian scripts/check_package.sh   another release
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(ls -t build/synthscope_*.deb 2>/dev/null | head -n 1 || true)}
[[ -f $deb ]] || { echo "No package: run scripts/build_bundle.sh --deb first" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "scripts/check_package.sh needs root (chroot, mount)" >&2; exit 2; }
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
work=build/package-check
base=$work/$SUITE-minbase.tar  # the clean system, made once and unpacked afresh for every check
mkdir -p "$work"
if [[ ! -f $base ]]; then
    echo "Making a minimal Debian $SUITE with debootstrap (a few minutes, once)…"
    fresh=$(mktemp -d "$work/debootstrap.XXXX")
    debootstrap --variant=minbase "$SUITE" "$fresh" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; rm -rf "$fresh"; exit 1; }
    chmod 755 "$fresh"  # the new system's / (mktemp made it private)
    tar -C "$fresh" -cf "$base" .
    rm -rf "$fresh"
fi

root=$(mktemp -d "$work/root.XXXX")
cleanup() {
    for mount in sys dev proc; do umount -l "$root/$mount" 2>/dev/null || true; done
    rm -rf "$root"
}
trap cleanup EXIT
tar -xf "$base" -C "$root"
chmod 755 "$root"  # its / must be open to the ordinary user the app runs as
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"  # the CPU's topology, which the engine check reads
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/synthscope.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
# Every file of the system but the changing state (apt's lists and caches, logs, dpkg's records).
files() {
    in_root find / -xdev \( -path /tmp -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \
        -o -path /var/log -o -path /home -o -path /root -o -path /etc/ld.so.cache \) -prune -o -print | sort
}

in_root useradd --create-home teacher
in_root apt-get update -qq
files >"$work/before.txt"
echo "Installing $(basename "$deb") ($(du -h "$deb" | cut -f1)) with apt-get into a clean Debian $SUITE…"
in_root apt-get install -y -qq /tmp/synthscope.deb >"$work/install.log" 2>&1 \
    || { tail -n 30 "$work/install.log" >&2; exit 1; }
echo "apt-get installed $(grep -c '^Setting up' "$work/install.log") packages with it"
for file in /usr/bin/synthscope /usr/share/applications/io.github.synthscope.Synthscope.desktop \
            /usr/share/metainfo/io.github.synthscope.Synthscope.metainfo.xml \
            /usr/share/icons/hicolor/256x256/apps/synthscope.png /opt/synthscope/synthscope; do
    [[ -e $root$file ]] || { echo "FAILED: the package did not install $file" >&2; exit 1; }
done

touch "$root/tmp/before-first-start"
echo "First start, as the user 'teacher', from the launcher on the PATH:"
as_teacher() { in_root runuser -u teacher -- env HOME=/home/teacher PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }
as_teacher synthscope --smoke-test
if command -v Xvfb >/dev/null; then
    # Again in a real X11 window: Qt's xcb plug-in needs the libraries the package depends on.
    Xvfb :97 -ac -screen 0 1600x1000x24 >/dev/null 2>&1 &
    xvfb=$!
    mkdir -p "$root/tmp/.X11-unix"
    mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
    # Xvfb's first start on a fresh machine can take several seconds (it builds its font caches).
    for _ in $(seq 300); do [[ -S /tmp/.X11-unix/X97 ]] && break; sleep 0.1; done
    [[ -S /tmp/.X11-unix/X97 ]] || { echo "FAILED: Xvfb did not start within 30 s" >&2; kill $xvfb; exit 1; }
    echo "In a real X11 window (Xvfb):"
    status=0
    as_teacher QT_QPA_PLATFORM=xcb DISPLAY=:97 synthscope --smoke-test || status=$?
    umount "$root/tmp/.X11-unix"
    kill $xvfb
    [[ $status == 0 ]] || { echo "FAILED: the installed app did not run in an X11 window" >&2; exit 1; }
else
    echo "(Xvfb is not installed: the real X11 window was not tried; apt-get install xvfb)"
fi
written=$(in_root find / -xdev -newer /tmp/before-first-start -type f -not -path '/home/teacher/*' \
              -not -path '/tmp/*' -not -path '/var/tmp/*' | sort)
if [[ -n $written ]]; then
    echo "FAILED: the first start wrote outside the user's home folder:" >&2
    echo "$written" >&2
    exit 1
fi
choice=$(ls "$root"/home/teacher/.cache/synthscope/ 2>/dev/null | tr '\n' ' ')
[[ -n $choice ]] || { echo "FAILED: the engine check wrote nothing to ~/.cache/synthscope" >&2; exit 1; }
echo "The first start wrote only to the user's folders: ~/.cache/synthscope/ holds $choice"

in_root apt-get purge -y -qq synthscope >"$work/remove.log" 2>&1
in_root apt-get autoremove --purge -y -qq >>"$work/remove.log" 2>&1
files >"$work/after.txt"
# dpkg removes a folder a package listed once it is empty and no other package lists it; no package
# lists /opt, so it goes with the last package under it (Google Chrome's package does the same).
if ! diff -u <(grep -vx /opt "$work/before.txt") <(grep -vx /opt "$work/after.txt") >"$work/left-behind.diff"; then
    echo "FAILED: the system differs after removing the package ($work/left-behind.diff):" >&2
    head -n 40 "$work/left-behind.diff" >&2
    exit 1
fi
echo "Removed with its dependencies: every file of the system is as before ($(wc -l <"$work/before.txt") files compared)"
echo "Package check passed: $(basename "$deb")"
