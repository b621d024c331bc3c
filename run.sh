#!/usr/bin/env bash
# babycry front door.
#   ./run.sh          set up (venv, dependencies, corpus link, manifests) and start the app
#   ./run.sh test     set up, then run the test suite (what CI runs)
#   ./run.sh setup    set up only
# Extra arguments after `test` go to pytest, after the default they go to `streamlit run`.
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-app}; [ $# -gt 0 ] && shift

setup() {
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  want=$(cat requirements*.txt | sha1sum | cut -c1-40)
  if [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
    echo "installing dependencies (about 2 minutes the first time)..."
    .venv/bin/pip install -q --upgrade "pip>=24" >/dev/null
    .venv/bin/pip install -q -r requirements-dev.txt
    echo "$want" > .venv/.requirements.sha
  fi
  # link ../shared/data (or clone the public corpus) into data/corpus, then build manifests and splits
  if [ ! -f data/donateacry/splits.json ]; then
    .venv/bin/python -m babycry_core data build --corpus donateacry || echo "warning: no corpus; the app offers generated demo signals"
  fi
  if [ ! -f data/combined/splits.json ] && [ -e data/corpus/giulbia ]; then
    .venv/bin/python -m babycry_core data build --corpus combined || true
  fi
}

browser() {
  # the real-browser test drives Debian's chromium (never `playwright install`)
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
      || echo "warning: chromium could not be installed; the browser test will be skipped"
  fi
}

case "$cmd" in
  setup) setup ;;
  test) setup; browser; exec .venv/bin/python -m pytest "$@" ;;
  app) setup; exec .venv/bin/streamlit run Home.py "$@" ;;
  *) echo "usage: ./run.sh [app|test|setup]" >&2; exit 2 ;;
esac
