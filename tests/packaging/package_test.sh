#!/usr/bin/env bash
# The amd64 package from this build, checked as scripts/smoke_deb checks every package (lintian,
# the systemd units, the packaged binary). `make deb` does the same for arm64 under qemu.
#   tests/packaging/package_test.sh BUILD_DIR WORK_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$2"
deb=$("$root/scripts/make_deb" amd64 "$1" "$2")
"$root/scripts/smoke_deb" "$deb"
