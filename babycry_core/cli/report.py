"""What `predict` and `detect` print: the same shape for every command that answers file by file."""
from __future__ import annotations

import json


def report(results: list, as_json: bool, show) -> int:
    """predict's and detect's output: one JSON array (an object per file), or show(result) per file and one
    "FILE: error: ..." line per failed one. Exit status 1 when a file failed."""
    if as_json:
        print(json.dumps([r if isinstance(r, dict) else r.to_dict() for r in results], indent=1))
    else:
        for r in results:
            if isinstance(r, dict):
                print(f"{r['file']}: error: {r['error']}")
            else:
                show(r)
    return int(any(isinstance(r, dict) for r in results))
