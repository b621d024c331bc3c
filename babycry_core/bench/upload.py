"""`bench upload`: the upload answer (crying / not sure / not a cry) that Classify, `predict` and the API give.

Rows, all on the 5 grouped folds of data/detect (by baby / app install, recording, ESC-50 id, UrbanSound fsID,
speaker, YouTube video; stratified by kind), every recording tested once:

    verdict           the shipped recipe (training/clip_verdict_fit.py): trained on each fold's training part, its two
                      thresholds chosen on the fold's validation part by the shipped rule
    yamnet_head       the issue's baseline: a logistic head on frozen YAMNet clip embeddings (mean and max), trained
                      with the laughter, one threshold (bench/cry_yamnet.py)
    yamnet_zero_shot  anchor: YAMNet's own "Baby cry" score, threshold on validation
    svm_anchor        anchor: log-mel and MFCC statistics with an RBF SVM (bench/cry.py), on the fold's training and
                      validation recordings (not augmented)

plus `shipped`: the shipped run's own verdict on the test part of the fixed split it was fitted on (its split.json).
The two-answer models answer "crying" or "no_cry". Same-app uploads where YAMNet hears a baby's voice
(same_app_uncertain) are trained on by none and scored apart. Test cries are also scored turned down to QUIET_DBFS,
and the 22 raw phone uploads by the fold whose test part holds their cleaned twin.
Writes results/upload_answer.json (and .md).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.data.corpora import CRY
from babycry_core.eval.kinds import UNCERTAIN

MODELS = ("verdict", "yamnet_head", "yamnet_zero_shot", "svm_anchor")
ANCHORS = ("svm_anchor", "yamnet_zero_shot")


def _two_way(decide):
    return lambda ws: ["crying" if decide(w)[1] else "no_cry" for w in ws]


def _fold_answerer(m: str, frames, wave_of):
    """answer(list of waveforms) -> list of answers, for model m fitted on this fold."""
    from babycry_core.bench.cry import _fold_svm
    from babycry_core.bench.cry_yamnet import fold_head, fold_zero_shot
    from babycry_core.training.clip_verdict_fit import answers_of, fit_verdict, trainable

    train, val = trainable(frames["train"]), trainable(frames["val"])
    tw, vw = [wave_of(c) for c in train["clip_id"]], [wave_of(c) for c in val["clip_id"]]
    t_cry, v_cry = (train["label"] == CRY).to_numpy(), (val["label"] == CRY).to_numpy()
    if m == "verdict":
        v = fit_verdict(tw, train, vw, val)
        return lambda ws: answers_of(v, ws)
    if m == "yamnet_head":
        return _two_way(fold_head(tw, t_cry, vw, v_cry))
    if m == "yamnet_zero_shot":
        return _two_way(fold_zero_shot(vw, v_cry))
    if m == "svm_anchor":
        return _two_way(_fold_svm(tw + vw, np.concatenate([t_cry, v_cry])))
    raise ValueError(f"unknown model {m!r}; valid: {', '.join(MODELS)}")


def _score(answer, test, wave_of, uploads) -> dict:
    """answer's parts on a test part, with the uploads whose cleaned twin is in it."""
    from babycry_core.training.clip_verdict_fit import answer_parts

    stems = {Path(p).stem for p in test["path"]}
    mine = sorted(n for n in uploads if Path(n).stem in stems)
    return {**answer_parts(answer, [wave_of(c) for c in test["clip_id"]], test, [uploads[n] for n in mine]),
            "upload_files": mine}


def _figures(parts: list[dict]) -> dict:
    from babycry_core.eval.upload_answer import upload_figures

    cat = lambda k: [x for p in parts for x in p[k]]  # noqa: E731
    fig = upload_figures(cat("answers"), cat("kinds"), cat("groups"), quiet_answers=cat("quiet"),
                         upload_answers=cat("uploads"))
    fig["uploads_not_crying"] = [n for p in parts for n, a in zip(p["upload_files"], p["uploads"]) if a != "crying"]
    return fig


def run(models=MODELS, folds: int = 5, shipped: bool = True, out: Path | None = None, progress: bool = True) -> dict:
    from tqdm import tqdm

    from babycry_core.audio import decode as audio
    from babycry_core.bench.cry import _uploads
    from babycry_core.data import manifest as data

    started = time.time()
    manifest = data.load_manifest("detect").set_index("clip_id", drop=False)
    cache: dict = {}

    def wave_of(clip_id: str) -> np.ndarray:
        if clip_id not in cache:
            cache[clip_id] = audio.load(data.resolve_path(manifest.loc[clip_id, "path"]), 8000)
        return cache[clip_id]

    uploads = {}
    for f in _uploads():
        try:
            uploads[f.name] = audio.load(f, 8000)
        except audio.AudioError:
            pass
    work = paths.results_dir() / "upload_bench"
    per_model: dict = {m: [] for m in models}
    for k in tqdm(range(folds), desc="folds", disable=not progress):
        frames = dict(zip(("train", "val", "test"), data.split_frames("detect", "fold", k)))
        for m in models:
            f = work / f"fold{k}" / f"{m}.json"
            if not f.exists():
                fileio.write_json(f, _score(_fold_answerer(m, frames, wave_of), frames["test"], wave_of, uploads))
            per_model[m].append(fileio.read_json(f))
    report = {"models": {m: _figures(p) for m, p in per_model.items()}, "folds": folds,
              "n_uploads": len(uploads), "date": time.strftime("%Y-%m-%d"), "command": "python -m babycry_core bench upload"}
    if shipped:
        report["models"]["shipped"] = shipped_figures(wave_of, uploads)
    report["lead_over_anchors"] = leads(per_model, report)
    report["seconds"] = round(time.time() - started, 1)
    fileio.write_json(out or paths.results_dir() / "upload_answer.json", report)
    return report


def shipped_figures(wave_of, uploads) -> dict | None:
    """The shipped detector's verdict on the test part of its own split.json (None when it has no verdict)."""
    from babycry_core.inference.clip_verdict import ClipVerdict
    from babycry_core.runs.run_folder import RunFolder
    from babycry_core.runs.run_registry import default_folders
    from babycry_core.training.clip_verdict_fit import answers_of
    from babycry_core.data import manifest as data

    run_dir = default_folders()[0]
    if run_dir is None or not run_dir.has(RunFolder.VERDICT, RunFolder.SPLIT):
        return None
    v = ClipVerdict.load(run_dir)
    ids = run_dir.read(RunFolder.SPLIT)["test"]
    test = data.load_manifest("detect").set_index("clip_id", drop=False).loc[ids]
    fig = _figures([_score(lambda ws: answers_of(v, ws), test, wave_of, uploads)])
    fig["run"] = run_dir.name
    return fig


def leads(per_model: dict, report: dict) -> dict:
    """The verdict's F1 of "crying" minus each anchor's, with a 95 % interval over whole sources (the uncertain
    same-app uploads left out, as in upload_figures)."""
    from babycry_core.eval.cry_metrics import f1_lead

    if "verdict" not in per_model:
        return {}
    cat = lambda m, k: np.array([x for p in per_model[m] for x in p[k]], dtype=object)  # noqa: E731
    kinds = cat("verdict", "kinds")
    clean = ~np.isin(kinds, UNCERTAIN)
    crying = lambda m: (cat(m, "answers") == "crying")[clean]  # noqa: E731
    return {a: f1_lead(kinds[clean] == "cry", crying("verdict"), crying(a), cat("verdict", "groups")[clean].astype(str))
            for a in ANCHORS if a in per_model}


def format_report(rep: dict) -> str:
    from babycry_core.eval.upload_answer import format_rows

    lines = [format_rows({m: f for m, f in rep["models"].items() if f})]
    for a, d in rep.get("lead_over_anchors", {}).items():
        lines.append(f"\nverdict minus {a}, F1 of 'crying': {d['point']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"
                     + (" (ahead outside the interval)" if d["ahead_outside_interval"] else " (not clear of it)"))
    return "\n".join(lines)


def main(a) -> int:
    """`bench upload [--models ...] [--folds K] [--out FILE]`; the report also goes to results/upload_answer.md."""
    rep = run(a.models or MODELS, folds=a.folds, out=a.out)
    text = format_report(rep)
    print(text)
    fileio.atomic_write(paths.results_dir() / "upload_answer.md", lambda fh: fh.write(text + "\n"), mode="w")
    return 0
