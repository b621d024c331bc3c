"""One Family object per model family (runs.family, babycry_core.families): every spec's family has one, and every
family provides every part (fit, load, check, evaluate, export or why not, the ONNX loader, its card's sections)."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from babycry_core.models import registry
from babycry_core.runs.card_sections import CardSections
from babycry_core.runs.family import Family, families, family, family_of

RUN_ONLY = {"cv"}  # a cross-validation summary: a run family no spec names


def test_every_spec_family_has_a_family_object():
    spec_families = {registry.get_spec(n).family for n in registry.model_names()}
    assert spec_families == set(families()) - RUN_ONLY


def test_what_runs_record_is_a_registered_family():
    for name, fam in families().items():
        assert fam.name == name
        assert family(fam.records).records == fam.records  # a run family answers for itself
    assert family("detector").records == "torch"  # a trained detector is a torch network
    assert family_of({}) is family("torch")  # the oldest runs record no family
    assert family_of({"family": "mystery"}) is None
    with pytest.raises(ValueError, match="unknown model family 'mystery'"):
        family("mystery")


@pytest.mark.parametrize("name", sorted(families()))
def test_every_family_provides_every_part(name):
    fam = family(name)
    for part in Family.PARTS:
        impl = getattr(type(fam), part)
        assert impl is not getattr(Family, part), f"{name} does not provide {part}"
        assert not getattr(impl, "__isabstractmethod__", False), f"{name}.{part} is abstract"
        assert callable(getattr(fam, part))
    assert isinstance(fam.card, CardSections), f"{name} has no model card sections"


def test_a_family_missing_a_part_cannot_register():
    from babycry_core.runs.family import register

    class Partial(Family):
        name = "partial"
        card = CardSections()

        def fit(self, cfg, run_dir=None, *, progress=True, **kw):
            return Path(".")

    with pytest.raises(TypeError):
        register(Partial)
    assert "partial" not in families()


def test_every_family_module_names_its_family():
    import babycry_core.families as package

    modules = {m.split(".")[-1] for m in package.__dict__ if not m.startswith("_")}
    for name, fam in families().items():
        assert inspect.getmodule(type(fam)).__name__.startswith(package.__name__ + "."), name
        assert f"{name}_family" in modules, f"no module babycry_core.families.{name}_family"


def test_what_does_not_export_says_why_in_one_line():
    assert family("torch").unexportable("r", {}) is None and family("two_stage").unexportable("r", {}) is None
    assert family("classical").unexportable("r", {"embedding_source": {"kind": "handcrafted"}}) is None
    for name, config in (("yamnet", {"model": "yamnet"}), ("cv", {}),
                         ("classical", {"model": "svm", "embedding_source": {"kind": "yamnet"}})):
        why = family(name).unexportable("r", config)
        assert why and "\n" not in why and "run r" in why


def test_a_model_less_family_says_so(tmp_path):
    from babycry_core.runs.run_folder import RunFolder

    cv = family("cv")
    assert not cv.has_model and cv.check(RunFolder(tmp_path), {}) is None
    with pytest.raises(ValueError, match="holds no model to load"):
        cv.load(RunFolder(tmp_path))
    with pytest.raises(ValueError, match="has no model to evaluate"):
        cv.evaluate(RunFolder(tmp_path))


def test_family_attributes_replace_the_name_branches():
    """What callers once asked by family name, each family now says: whose runs embed, who takes log-mel parts,
    what a cross-validation run adds to its train command, and what the leaderboard's budget column shows."""
    from babycry_core import paths
    from babycry_core.runs.embeddings import resolve
    from babycry_core.runs.family import family

    assert family("torch").embeds and family("torch").takes_log_mel_parts
    assert not family("detector").takes_log_mel_parts  # it reads its own corpus
    assert family("cv").train_flags == ("--cv",) and not family("cv").has_model
    assert family("classical").budget == ("embedding",) and "epochs" in family("yamnet").budget
    assert not any(family(n).embeds for n in ("classical", "yamnet", "two_stage", "cv"))
    svm = next((paths.ROOT / "checkpoints").glob("*-svm-*"))  # the shipped classical run: no embedding source
    with pytest.raises(ValueError, match="'classical' model; a CNN"):
        resolve(str(svm))
