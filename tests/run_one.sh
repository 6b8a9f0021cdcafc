#!/bin/sh
# Run one integration test for tests/run.sh: log to $LOGDIR/NAME.log and write
# "EXIT-CODE SECONDS" to $RESDIR/NAME.  Prints a line when it ends, so that a
# long parallel run shows progress.
t=$1
name=$(basename "$t")
start=$(date +%s)
"$t" >"$LOGDIR/$name.log" 2>&1 </dev/null
rc=$?
secs=$(( $(date +%s) - start ))
echo "$rc $secs" >"$RESDIR/$name"
echo "  ...   $name done (${secs}s)"
