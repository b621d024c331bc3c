"""Where `bench cry`'s false alarms and misses come from, per kind, finer than the kind:

    same_app          what YAMNet hears in the upload (dac-rejected/labels.tsv `yamnet_top`) and the phone (platform)
    household_street  the corpus and, for UrbanSound8K, its class (dog bark, siren, children playing, ...)
    speech_*          the corpus (FSDD digits or speechocean762 sentences)
    laughing          the recording
    cry (misses)      the corpus (donateacry, giulbia) and, for donateacry, the phone (file name: .3gp / .caf / .wav)

`breakdown(frame, called)` -> {kind: {source: {"n", "errors", "rate"}}} for one model's pooled test answers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from babycry_core import paths


def _same_app_table() -> dict[str, dict]:
    for root in (paths.data_dir() / "corpus" / "dac-rejected", paths.shared_data_dir() / "dac-rejected"):
        f = root / "labels.tsv"
        if f.is_file():
            t = pd.read_csv(f, sep="\t")
            return {str(r["file"]).rsplit(".", 1)[0]: r for _, r in t.iterrows()}
    return {}


def source_of(row, same_app: dict) -> str:
    """One recording's finer source within its kind (see the module doc)."""
    clip, kind, source = str(row["clip_id"]), str(row.get("kind", "")), str(row["source"])
    if kind == "same_app":
        r = same_app.get(clip.split("/", 1)[-1])
        return "?" if r is None else f"{r['yamnet_top']} ({r['platform']})"
    if source == "urbansound":
        return f"urbansound: {clip.split('/')[1].replace('_', ' ')}"
    if source == "giulbia" and kind == "household_street":
        return "ESC-50 (giulbia noise)"
    if kind == "laughing":
        return f"laugh recording {row['group']}"
    if kind.startswith("speech"):
        return {"derived": "FSDD digits", "speech-more": "speechocean762 sentences"}.get(source, source)
    if kind == "cry":
        return f"{source} cries"
    return source


def breakdown(frame: pd.DataFrame, called: np.ndarray, top: int = 8) -> dict:
    """{kind: {source: {"n", "errors", "rate"}}}: for non-cry kinds the false alarms, for cries the misses; the `top`
    sources with the most errors per kind, largest first."""
    same_app = _same_app_table() if "kind" in frame and (frame["kind"] == "same_app").any() else {}
    kinds = frame["kind"].astype(str).to_numpy() if "kind" in frame else frame["label"].astype(str).to_numpy()
    src = np.array([source_of(r, same_app) for _, r in frame.iterrows()])
    out = {}
    for k in sorted(set(kinds)):
        m = kinds == k
        err = ~called[m] if k == "cry" else called[m]
        t = pd.DataFrame({"s": src[m], "e": err}).groupby("s")["e"].agg(["size", "sum"])
        t = t[t["sum"] > 0].sort_values("sum", ascending=False).head(top)
        out[k] = {s: {"n": int(r["size"]), "errors": int(r["sum"]), "rate": round(float(r["sum"] / r["size"]), 3)}
                  for s, r in t.iterrows()}
    return out
