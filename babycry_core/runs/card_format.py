"""How the model cards write a figure: a value with its 95 % interval, or "n/a" when it is missing."""
from __future__ import annotations

NAN = float("nan")


def ci(v, interval) -> str:
    lo, hi = interval or (NAN, NAN)
    return "n/a" if v is None or v != v else f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo == lo else f"{v:.3f} [no interval]"


def mci(d: dict, key: str) -> str:
    return ci(d.get(key), d.get(f"{key}_ci"))


def f(v, spec: str = ".3f") -> str:
    return "n/a" if v is None or v != v else format(v, spec)
