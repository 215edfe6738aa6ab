#!/usr/bin/env bash
# TEST/DEMO ONLY. Not a dependency of the images: the Dockerfiles name the official
# python:3.11.14-slim-bookworm, which is multi-arch on Docker Hub. This machine reaches no
# image registry, so to show an arm64 build here we make a local arm64 stand-in for that
# base from Debian's arm64 packages (debootstrap through qemu-user-static), the same recipe
# as ../shared/docker/standin_images.py uses for amd64: bookworm's Python 3.11, venv, pip.
#
# Usage: deploy/multiarch/arm64-standin-base.sh [IMAGE]   (default localhost/standin-python-arm64:bookworm)
# Needs root, debootstrap, qemu-user-static, binfmt-support and podman. About 5-10 min.
set -euo pipefail

image=${1:-localhost/standin-python-arm64:bookworm}
if podman image exists "$image"; then
  echo "arm64 stand-in: $image already present"
  exit 0
fi

# qemu-aarch64 through binfmt_misc runs the arm64 maintainer scripts of debootstrap's
# second stage, and later the arm64 RUN steps of the builds.
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

mirror=${STANDIN_MIRROR:-$(cat /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null |
  sed -n 's/^URIs:[[:space:]]*\(\S*\/debian\)[[:space:]]*$/\1/p' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d /var/tmp/arm64-standin.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --arch=arm64 --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$root/fs" "$mirror" >/dev/null
# The host's CA bundle, so pip's TLS through this machine's package proxy works in builds.
cp /etc/ssl/certs/ca-certificates.crt "$root/fs/etc/ssl/certs/ca-certificates.crt"
for name in python python3; do ln -sf /usr/bin/python3 "$root/fs/usr/local/bin/$name"; done
for name in pip pip3; do ln -sf /usr/bin/pip3 "$root/fs/usr/local/bin/$name"; done
rm -f "$root"/fs/usr/lib/python3*/EXTERNALLY-MANAGED
rm -rf "$root"/fs/var/cache/apt/archives/*.deb "$root"/fs/var/lib/apt/lists/*

tar -C "$root/fs" -c . | podman import --arch arm64 --os linux \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$image" >/dev/null
echo "arm64 stand-in: built $image ($(podman image inspect --format '{{.Os}}/{{.Architecture}}' "$image"))"
