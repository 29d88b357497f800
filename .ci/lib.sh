# shellcheck shell=bash
# Sourced by .ci/*.sh and the workflows: the one way to start the Cortex emulator and wait for it.
# Ready means GET /_emulator/health answers 200; with --port 0, --ready-file tells the URL.

# wait_for_emulator URL [SECONDS]: poll URL/_emulator/health until it answers 200 (default 20 s).
wait_for_emulator() {
    local url="$1" seconds="${2:-20}" i
    for ((i = 0; i < seconds * 10; i++)); do
        if python3 - "$url/_emulator/health" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
    sys.exit(answer.status != 200)
PY
            return 0
        fi
        sleep 0.1
    done
    printf 'FAIL: the emulator at %s did not answer /_emulator/health within %s s\n' "$url" "$seconds" >&2
    return 1
}

# start_emulator CORTEX_ACTION LOG: start `CORTEX_ACTION emulator --port 0` in the background
# (its pid in EMULATOR_PID, its output in LOG), read the URL from its --ready-file, wait until it is
# healthy, and set EMULATOR_URL. fd 9 (the CI lock) is not passed on.
start_emulator() {
    local program="$1" log="$2" ready="$2.url" i
    EMULATOR_URL=""
    rm -f "$ready"
    "$program" emulator --port 0 --ready-file "$ready" >"$log" 2>&1 9>&- &
    EMULATOR_PID=$!
    for ((i = 0; i < 200; i++)); do
        [[ -s "$ready" ]] && break
        kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$log" >&2; echo "FAIL: the emulator exited" >&2; return 1; }
        sleep 0.1
    done
    [[ -s "$ready" ]] || { cat "$log" >&2; echo "FAIL: the emulator wrote no ready file" >&2; return 1; }
    EMULATOR_URL="$(cat "$ready")"
    wait_for_emulator "$EMULATOR_URL"
}
