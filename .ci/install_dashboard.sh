#!/usr/bin/env bash
# CI extras for the dashboard, report and browser tests, beyond `pip install -e ".[test]"`:
#   the dashboard extra (visdom 0.2.4, tornado<6.6, imageio-ffmpeg: PIP_CONSTRAINT=constraints/dashboard-build.txt pip install -e ".[dashboard]"), Debian chromium + chromium-driver,
#   and visdom's front-end files (fetched as pinned npm packages when its CDN is out of reach).
# Idempotent: every step checks first and does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# The dashboard extra, exactly as README says to install it. visdom 0.2.4 is an sdist whose setup
# imports pkg_resources: it only builds with setuptools<81, which constraints/dashboard-build.txt
# gives pip's isolated build environment. Constraint files the machine already sets are kept.
if ! "$PY" - <<'PY' 2>/dev/null
import imageio_ffmpeg, tornado, visdom
assert visdom.__version__ == "0.2.4" and tuple(map(int, tornado.version.split(".")[:2])) < (6, 6)
PY
then
    constraints="$(mktemp)"
    trap 'rm -f "$constraints"' EXIT
    for existing in ${PIP_CONSTRAINT:-} $("$PY" -m pip config get global.constraint 2>/dev/null || true); do
        [ -f "$existing" ] && { cat "$existing" >> "$constraints"; echo >> "$constraints"; }
    done
    cat constraints/dashboard-build.txt >> "$constraints"
    PIP_CONSTRAINT="$constraints" .venv/bin/pip install --quiet -e ".[dashboard]"
fi

# Headless Chromium for tests/test_browser.py (and npm for the front-end files when it is missing).
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
command -v npm >/dev/null || packages+=(npm)
if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else SUDO=(false); fi
    if "${SUDO[@]}" true 2>/dev/null; then
        "${SUDO[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
    else
        echo "install_dashboard.sh: cannot apt-get install ${packages[*]} (not root, no sudo); browser tests will skip" >&2
    fi
fi

# visdom's browser files, so the dashboard renders offline (fast no-op when present).
"$PY" -m cyclegan.cli.dashboard --setup-only
