"""What a model card says differently for each family (runs.model_card writes the rest).

`CardSections` holds what any family's card says; a family (babycry_core.families) overrides what its runs need
said otherwise and names its instance as `Family.card`. A run of a family this code does not know gets these
defaults.
"""
from __future__ import annotations

from babycry_core.runs.run_folder import RunFolder, recorded_family

VALIDATION_CHOOSES = ("Validation picks the epoch (early stopping) and fits the temperature and the abstention "
                      "threshold; the test part is used once, for the figures below.")


class CardSections:
    """The defaults; each attribute or method is one family-specific place of the card."""

    yamnet_based = False  # the card names YAMNet's AudioSet weights and their licence
    unknown_cries = ""  # how the Data section says cries without a reason are used
    weights_note: str | None = None  # the Weights line when the run holds no weights by design
    selection = VALIDATION_CHOOSES  # after the split sizes: what validation (or CV) chose
    interval = "bootstrap over test clips."  # how the test figures' 95 % intervals were computed
    calibration_paragraph = True  # the calibration paragraph under the test figures (two_stage: its own section)
    temperature = "temperature"  # "temperatures" when each stage has its own

    def describe(self, cfg: dict) -> str:
        """The card's first paragraph: what the model is."""
        family, model = recorded_family(cfg), cfg.get("model")
        try:
            from babycry_core.models import get_spec

            what = get_spec(model).description
        except Exception:  # an unknown or unloadable model still gets a card
            what = "a model not in this registry"
        params = f", {cfg['n_params']:,} parameters" if cfg.get("n_params") else ""
        src = cfg.get("embedding_source") or {}
        emb = f" Input: `{src.get('kind')}` clip embeddings{' of run ' + src['run_id'] if src.get('run_id') else ''}."
        return f"`{model}` (family {family}{params}): {what.rstrip('.')}.{emb if src else ''}"

    def pretrained(self, folder: RunFolder, cfg: dict) -> str | None:
        """The Pretrained line's value (None: 'requested' or 'no')."""
        pre = cfg.get("pretrained_status")
        if not pre and cfg.get("embedding_source"):
            kind = cfg["embedding_source"].get("kind")
            pre = "not applicable (handcrafted features)" if kind == "handcrafted" else f"embeddings from `{kind}`"
        return pre

    def split(self, cfg: dict) -> str:
        """Which part is the test part."""
        if cfg.get("split") == "fold":
            return f"Fold {cfg.get('fold')} of data/{cfg.get('corpus')}/splits.json is the test part"
        return f"The fixed train / validation / test split of data/{cfg.get('corpus')}/splits.json"

    def no_sizes(self, m: dict) -> str:
        """The sizes line when config.json records no part sizes."""
        return "Part sizes are not recorded. "

    def training(self, cfg: dict) -> list[str]:
        """The Training section's first lines."""
        return []

    def limitations(self, m: dict) -> list[str]:
        """The family's own limitation lines (after the ones every card has)."""
        base = (m.get("baseline") or {}).get("macro_f1")
        if m.get("macro_f1") is not None and base is not None and m["macro_f1"] <= base:
            return [f"- **Not better than always answering '{m['baseline']['label']}'** (macro-F1 {m['macro_f1']:.3f} "
                    f"vs {base:.3f}): the answers carry no information beyond the class frequencies."]
        return []


def epochs_line(cfg: dict, per: str = "") -> str:
    """How a network was trained (the torch loop's settings): the Training line of torch, yamnet and two_stage."""
    return (f"Up to {cfg.get('epochs')} epochs{per} (early stopping on validation macro-F1, patience "
            f"{cfg.get('patience')}), lr {cfg.get('lr')}, batch {cfg.get('batch_size')}, class balance "
            f"`{cfg.get('balance')}`, SpecAugment {'on' if cfg.get('specaugment') else 'off'}, mixup "
            f"{cfg.get('mixup')}, seed {cfg.get('seed')}, {cfg.get('threads')} torch thread(s) (0: default).")

