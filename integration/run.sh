#!/usr/bin/env bash
# Entry point of `make test` (as root): runs every integration/*.sh scenario
# script except lib.sh and run.sh, against the runtime in $CRYO_BIN
# (default /usr/local/bin/cryo), and ends with the line "N passed, N failed".
# Exit status is non-zero if any scenario failed (or none ran).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CRYO_BIN=${CRYO_BIN:-/usr/local/bin/cryo}
CRYO_IT_RESULTS=$(mktemp /tmp/cryo-it-results.XXXXXX)
export CRYO_IT_RESULTS
trap 'rm -f "$CRYO_IT_RESULTS"' EXIT

record() { # STATUS SCRIPT SCENARIO MESSAGE
    printf '%s\t%s\t%s\t%s\n' "$@" >>"$CRYO_IT_RESULTS"
    printf '%s %s: %s: %s\n' "$1" "$2" "$3" "$4"
}

echo "cryo integration tests: CRYO_BIN=$CRYO_BIN"
if [[ $EUID -ne 0 ]]; then
    record FAIL run setup "must run as root"
fi

scripts=0
for script in "$here"/*.sh; do
    name=$(basename "$script" .sh)
    case $name in lib | run) continue ;; esac
    scripts=$((scripts + 1))
    before=$(grep -c "	$name	" "$CRYO_IT_RESULTS")
    echo "### $name"
    bash "$script"
    rc=$?
    after=$(grep -c "	$name	" "$CRYO_IT_RESULTS")
    failed=$(grep -c "^FAIL	$name	" "$CRYO_IT_RESULTS")
    if ((after == before)); then
        record FAIL "$name" "(script)" "exited $rc without running any scenario"
    elif ((rc != 0 && failed == 0)); then
        record FAIL "$name" "(script)" "exited $rc although no scenario failed"
    fi
done
if ((scripts == 0)); then
    record FAIL run setup "no scenario scripts found in $here"
fi

passed=$(grep -c '^PASS	' "$CRYO_IT_RESULTS")
failed=$(grep -c '^FAIL	' "$CRYO_IT_RESULTS")
if ((failed > 0)); then
    echo
    echo "Failed scenarios:"
    awk -F'\t' '$1 == "FAIL" { printf "  %s: %s: %s\n", $2, $3, $4 }' "$CRYO_IT_RESULTS"
fi
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
