#!/bin/sh
# Run every benchmark program; each prints "<name> <value> <unit>" lines.
set -u
BUILD=${1:-build}
rc=0
for b in "$BUILD"/bench/*; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    "$b" || { echo "bench: $(basename "$b") failed" >&2; rc=1; }
done
exit $rc
