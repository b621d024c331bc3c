"""The launched training process: `python -m babycry_core.app.worker RUN_DIR` trains the TrainConfig that
app.train.launch left in RUN_DIR's status (cross-validation when asked) into RUN_DIR. Its output goes to the run's
log; the run writes its own progress and status (SIGTERM: stopped, keeping the best epoch)."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from babycry_core.app import train as T


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m babycry_core.app.worker RUN_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_dir = Path(argv[0])
    config, cv = T.request(run_dir)
    try:
        if cv:
            print(json.dumps(T.cross_validate(config, run_dir), indent=2))
            return 0
        T.train(config, run_dir)
    except T.YamnetUnavailable as e:  # no YAMNet weights: one sentence with the fix, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    from babycry_core.app.finish import metrics_text

    print(metrics_text(run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
