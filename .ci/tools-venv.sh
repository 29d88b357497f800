# shellcheck shell=bash
# Sourced: a venv with the CI tools of .ci/tools-requirements.txt, reinstalled only when that file changes.
ensure_tools_venv() {
    local venv="$1/.work/tools-venv" req="$1/.ci/tools-requirements.txt" stamp
    stamp="$(sha256sum "$req" | cut -c1-16)"
    if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]]; then
        echo "--- installing CI tools into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
            >"$1/.work/tools-venv.log" 2>&1 || { cat "$1/.work/tools-venv.log"; return 1; }
        echo "$stamp" >"$venv/.stamp"
    fi
    export PATH="$venv/bin:$PATH"
}
