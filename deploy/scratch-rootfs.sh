#!/bin/sh
# Assembles the root filesystem of the FROM scratch image in ROOTFS: BINARY as /dotproxy, with the
# cap_net_bind_service file capability so that a non-root user can bind port 53 (as CoreDNS's image
# does), and the files listed in LIBS (default: scratch-libs.txt beside this script), copied from
# this system. Fails when BINARY links a library that LIBS does not list.
#
# Run by the Dockerfile's build stage and by tests/packaging_scratch_test.ts.
# Usage: scratch-rootfs.sh BINARY ROOTFS [LIBS]
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: scratch-rootfs.sh BINARY ROOTFS [LIBS]" >&2
  exit 2
fi
binary=$1
rootfs=$2
libs=${3:-$(dirname "$0")/scratch-libs.txt}
files=$(grep -v -e '^#' -e '^[[:space:]]*$' "$libs")

# The list holds amd64 paths; another architecture needs its own list, not a silent mismatch.
if [ "$(uname -m)" != x86_64 ]; then
  echo "scratch-rootfs.sh: $libs lists x86_64 paths, this is $(uname -m)" >&2
  exit 1
fi

# `ldd` prints "name => /path (addr)" per library, "/loader (addr)" for the loader and
# "name => not found" for a library it cannot find. Compare resolved paths, because with merged
# /usr the same file is reachable as /lib/... and /usr/lib/...
ldd "$binary" | awk '/=> not found/ { print "missing:" $1; next } /=>/ { print $3; next } $1 ~ /^\// { print $1 }' |
  while read -r needed; do
    case $needed in
      missing:*)
        echo "scratch-rootfs.sh: $binary needs ${needed#missing:}, which this system lacks" >&2
        exit 1
        ;;
    esac
    found=no
    for file in $files; do
      if [ "$(readlink -f "$file")" = "$(readlink -f "$needed")" ]; then found=yes; fi
    done
    if [ $found = no ]; then
      echo "scratch-rootfs.sh: $binary needs $needed, which $libs does not list" >&2
      exit 1
    fi
  done

mkdir -p "$rootfs"
chmod 0755 "$rootfs"
for file in $files; do
  mkdir -p "$rootfs$(dirname "$file")"
  # -L: the image has no symlink farm, so each listed path must be a real file.
  cp -L "$file" "$rootfs$file"
done
cp "$binary" "$rootfs/dotproxy"
chmod 0755 "$rootfs/dotproxy"
setcap cap_net_bind_service=+ep "$rootfs/dotproxy"
