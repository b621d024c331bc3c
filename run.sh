#!/usr/bin/env bash
# babycry front door.
#   ./run.sh          set up (venv, dependencies, corpus link, manifests) and start the app
#   ./run.sh test     set up, then run the test suite (what CI runs)
#   ./run.sh setup    set up only
# Extra arguments after `test` go to pytest, after `app` (or leading `-` options: `./run.sh --server.port 8611`)
# they go to `streamlit run`. BABYCRY_DRY_RUN=1 skips the setup and prints the final command instead of running it.
# Without ../shared/data the corpus is cloned (BABYCRY_CORPUS_URL overrides the URL); without a network the app
# still starts and the tests still run, on generated demo signals.
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  -h|--help) cmd=help ;;
  ""|-*) cmd=app ;;  # no command, or streamlit options first: the app
  *) cmd=$1; shift ;;
esac
dry=${BABYCRY_DRY_RUN:-0}

run() {
  if [ "$dry" = 1 ]; then
    printf 'dry run:'; printf ' %q' "$@"; printf '\n'
    exit 0
  fi
  exec "$@"
}

setup() {
  if [ "$dry" = 1 ]; then echo "dry run: setup skipped"; return 0; fi
  want=$(cat requirements*.txt | sha1sum | cut -c1-40)
  if [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
    # the whole stack takes about 9 GB in .venv: say so in one line rather than let pip fail half-way
    local need_gb=${BABYCRY_MIN_FREE_GB:-10} free_gb
    free_gb=$(df -Pk . | awk 'NR==2 {print int($4 / 1048576)}')
    if [ -n "$free_gb" ] && [ "$free_gb" -lt "$need_gb" ]; then
      echo "error: installing the dependencies needs about $need_gb GB free here, and $(pwd) has $free_gb GB:" \
           "free some space (or set BABYCRY_MIN_FREE_GB if you know it fits)" >&2
      exit 1
    fi
  fi
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  if [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
    echo "installing dependencies (about 2 minutes the first time)..."
    .venv/bin/pip install -q --upgrade "pip>=24" >/dev/null
    .venv/bin/pip install -q -r requirements-dev.txt
    echo "$want" > .venv/.requirements.sha
    rm -f .venv/.numba-warm
  fi
  # compile librosa's numba kernels once (they cache to disk), so the first pitch shift in the app or the tests
  # does not pay about half a minute of JIT
  if [ ! -f .venv/.numba-warm ]; then
    .venv/bin/python -c "import numpy as np, librosa; librosa.effects.pitch_shift(np.random.default_rng(0).normal(size=16000).astype(np.float32), sr=8000, n_steps=3.0)" \
      && touch .venv/.numba-warm || true
  fi
  # link ../shared/data (or clone the public corpus) into data/corpus, then build manifests and splits; without a
  # corpus `data build` says so in one line and the app falls back to generated demo signals: never fatal here
  local data_dir=${BABYCRY_DATA:-data}
  # YAMNet's TFLite weights and the extra non-cry corpora (linked from ../shared/data, or YAMNet downloaded once)
  if [ -f "$data_dir/donateacry/splits.json" ] && [ ! -e "$data_dir/corpus/yamnet" ] \
     && [ ! -f "$data_dir/yamnet/yamnet.tflite" ]; then
    .venv/bin/python -m babycry_core data link >/dev/null || true
  fi
  if [ ! -f "$data_dir/donateacry/splits.json" ]; then
    .venv/bin/python -m babycry_core data build --corpus donateacry || true
  fi
  if [ ! -f "$data_dir/combined/splits.json" ] && [ -f "$data_dir/donateacry/splits.json" ] \
     && [ -e "$data_dir/corpus/giulbia" ]; then
    .venv/bin/python -m babycry_core data build --corpus combined || true
  fi
  # the cry detector's corpus (cries, laugh/noise/silence, FSDD speech joined per speaker, generated rooms)
  if [ ! -f "$data_dir/detect/splits.json" ] && [ -f "$data_dir/donateacry/splits.json" ] \
     && [ -e "$data_dir/corpus/giulbia" ] && [ -e "$data_dir/corpus/fsdd" ]; then
    .venv/bin/python -m babycry_core data build --corpus detect >/dev/null || true
  fi
}

browser() {
  [ "$dry" = 1 ] && return 0
  # the real-browser test drives Debian's chromium (never `playwright install`)
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
      || echo "warning: chromium could not be installed; the browser test will be skipped"
  fi
}

usage="usage: ./run.sh [app|test|setup] [ARGS...]   (app ARGS, e.g. --server.address 0.0.0.0, go to streamlit run)"
case "$cmd" in
  setup) setup ;;
  test) setup; browser; run .venv/bin/python -m pytest "$@" ;;
  app) setup; run .venv/bin/streamlit run Home.py "$@" ;;
  help) echo "$usage" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
