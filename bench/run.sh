#!/bin/sh
# Run every benchmark program; each prints "<name> <value> <unit>" lines.
set -u
BUILD=${1:-build}
rc=0
for b in "$BUILD"/bench/*; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    "$b" || { echo "bench: $(basename "$b") failed" >&2; rc=1; }
done
# The fetch batch's bytes against waiting time (a model; bench/README.md "Fetch batch").
python3 "$(dirname "$0")/fetch_batch.py" || { echo "bench: fetch_batch.py failed" >&2; rc=1; }
exit $rc
