"""What the model heard and relied on, and recordings to try: the Classify page's evidence beside the answer.

    model_input(y, cfg)        the log-mel the model receives (the padded window, or the whole long clip)
    saliency(model, y, method, target)   what it relied on (occlusion or Grad-CAM), methods(model) which apply
    feature_drivers(model, y)  an XGBoost head's feature contributions; audioset_opinion(y, sr): YAMNet's view
    sample_clips(), demo_clips(sr)       corpus clips per class (test split first), generated demo signals
"""
from __future__ import annotations

from pathlib import Path


def feature_config(d: dict):
    """A FeatureConfig from its dict (as a run's feature_config.json holds it)."""
    from babycry_core.features.config import FeatureConfig

    return FeatureConfig.from_dict(d)


def model_input(y, cfg):
    from babycry_core.inference.explain import model_input as mi

    return mi(y, cfg)


def mel_centres(cfg):
    """The centre frequency (Hz) of each mel band of cfg."""
    from babycry_core.features.logmel import mel_centres as mc

    return mc(cfg)


def methods(model) -> list[str]:
    from babycry_core.inference.explain import available_methods

    return available_methods(model)


def saliency(model, y, method: str = "occlusion", target=None):
    from babycry_core.inference.explain import saliency as sal

    return sal(model, y, method, target)


def covered_seconds(y, cfg) -> float | None:
    """Seconds a saliency map covers when it does not cover the whole recording, else None."""
    from babycry_core.inference.explain import covered_seconds as cs

    return cs(y, cfg)


def feature_drivers(model, y):
    from babycry_core.inference.explain import feature_drivers as fd

    return fd(model, y)


def audioset_opinion(y, sr: int) -> dict:
    """YAMNet's AudioSet classes for the recording (RuntimeError with the fix when YAMNet is unavailable)."""
    from babycry_core.inference.explain import audioset_opinion as ao

    return ao(y, sr)


def wav_bytes(y, sr: int) -> bytes:
    from babycry_core.audio import synth

    return synth.to_wav_bytes(y, sr)


def sample_clips(per_class: int = 3, corpus: str = "donateacry") -> dict[str, str]:
    """{title: file path} of a few corpus clips per class, test-split clips first (the models never trained
    on them). Empty when the corpus or its manifest is missing."""
    from babycry_core.data import manifest as data
    from babycry_core.inference import wording as L

    try:
        manifest = data.load_manifest(corpus)
    except (FileNotFoundError, OSError, ValueError):
        return {}
    try:
        test = set(data.load_splits(corpus)["fixed"]["test"])
    except (FileNotFoundError, OSError, ValueError, KeyError, TypeError):
        test = set()
    manifest = manifest.assign(is_test=manifest["clip_id"].isin(test)).sort_values(["label", "is_test", "clip_id"],
                                                                               ascending=[True, False, True])
    out = {}
    for label, rows in manifest.groupby("label", sort=True):
        n = 0
        for row in rows.itertuples():
            path = data.resolve_path(row.path)
            if n >= per_class or not path.is_file():
                continue
            n += 1
            tag = " (test set)" if row.is_test else ""
            out[f"{L.display(label)} #{n}{tag}: {Path(row.path).stem[:24]}…"] = str(path)
    return out


def demo_clips(sr: int = 8000) -> dict[str, tuple[bytes, str]]:
    """Generated demo recordings {title: (wav bytes, name)} for when no corpus is present."""
    from babycry_core.audio import synth

    made = {"Cry-like harmonic sweep (generated)": synth.cry_sweep(7.0, sr),
            "Higher-pitched cry-like sweep (generated)": synth.cry_sweep(7.0, sr, 900, 1200, seed=1),
            "White noise (generated)": synth.white_noise(7.0, sr),
            "Sine tone 440 Hz (generated)": synth.sine(7.0, sr),
            "Silence (generated)": synth.silence(7.0, sr)}
    return {title: (synth.to_wav_bytes(y, sr), title.split(" (")[0].lower().replace(" ", "_") + ".wav")
            for title, y in made.items()}


def clip_paths(corpora) -> dict:
    """clip id -> its manifest path, from the manifests of the corpora named (Compare's players; resolve_path)."""
    from babycry_core.data import manifest as data

    where = {}
    for corpus in set(corpora):
        try:
            where.update(data.load_manifest(corpus).set_index("clip_id")["path"].to_dict())
        except (FileNotFoundError, ValueError, KeyError):
            pass
    return where


def resolve_path(path) -> Path:
    """A manifest's clip path as a file here."""
    from babycry_core.data import manifest as data

    return data.resolve_path(path)
