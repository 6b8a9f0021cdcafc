# Shared by the tests/abuse/mixdir_*.sh tests (sourced): one authority
# (threshold 1) on a port below the ephemeral range, its log in
# $T/node_mixdir.log (kept and checked for sanitizer reports by the cleanup
# of mixnode_lib.sh), and node key directories $T/n1, $T/n2 (keys $N1, $N2).
. "$(dirname "$0")/lib.sh"
MIXDIR=$BUILD_ABS/mixdir
DT=$BUILD_ABS/tests/dirtool
[ -x "$MIXDIR" ] && [ -x "$DT" ] || { echo "mixdir or dirtool not built"; exit 77; }

# start_dir EXTRA_LIMITS [REGISTRATION_LINES]: @N1@ and @N2@ in the lines
# stand for the node keys (default: "node = @N1@").
start_dir() {
    BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
    DPORT=$BASE
    LINE=$("$MIXDIR" keygen -d "$T/auth" -a "127.0.0.1:$DPORT") || fail "mixdir keygen"
    ED=$(echo "$LINE" | awk '{print $4}')
    X=$(echo "$LINE" | awk '{print $5}')
    N1=$("$DT" nodekeys "$T/n1") || fail nodekeys
    N2=$("$DT" nodekeys "$T/n2") || fail nodekeys
    REG=$(printf '%s\n' "${2:-node = @N1@}" | sed -e "s|@N1@|$N1|g" -e "s|@N2@|$N2|g")
    GENESIS=$(($(date +%s) - 5))
    cat >"$T/dir.ini" <<EOT
[mixdir]
listen = 127.0.0.1:$DPORT
data_dir = $T/auth
stats_interval = 1
log_level = debug
[network]
$LINE
threshold = 1
epoch_length = 60s
genesis = $GENESIS
[registration]
$REG
[limits]
$1
EOT
    "$MIXDIR" -c "$T/dir.ini" >>"$T/node_mixdir.log" 2>&1 &
    DPID=$!; PIDS="$PIDS $DPID"
    n=0
    until "$DT" fetch -A "127.0.0.1:$DPORT" -K "$X" -a "$ED" -t 1 >/dev/null 2>&1; do
        n=$((n + 1)); [ $n -lt 100 ] || fail "mixdir did not come up"; sleep 0.1
    done
}
dir_upload() { "$DT" upload -A "127.0.0.1:$DPORT" -K "$X" -g "$GENESIS" -l 60 "$@"; }
dir_fetch() { "$DT" fetch -A "127.0.0.1:$DPORT" -K "$X" -a "$ED" -t 1 "$@"; }
