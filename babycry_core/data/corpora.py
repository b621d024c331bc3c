"""Corpus specs: which folders hold which classes, and which files come from the same recording.

A corpus is data, not a code path. `CorpusSpec` lists its sources; each `SourceSpec` (sources.py) names a root
folder (relative to `paths.data_dir()`), how its class folders (or Donate-a-Cry reason tags) map to labels, what
kind of sound each file is (the manifest's `kind`, finer than the label), the grouping rule that says which files
come from one baby, speaker or recording (splits never separate a group), an optional metadata table and the files
it leaves out. `data.build_manifest` walks a spec; nothing else in the project knows the class list.
"""
from __future__ import annotations

from dataclasses import dataclass

from babycry_core.data.sources import CRY_KIND, MetaTable, SourceSpec
from babycry_core.eval.kinds import UNCERTAIN  # the uncertain kinds' names live with the scores that set them apart

UNKNOWN_CRY = "cry_unknown"
# kinds that are neither a cry nor a clean non-cry (same-app uploads where YAMNet hears a baby's voice): scored apart,
# never trained on as negatives
UNCERTAIN_KINDS = frozenset(UNCERTAIN)  # a cry with no reason label: the cry/no-cry gate uses it, the reason model does not
NON_CRY_LABELS = ("speech", "laugh", "noise", "silence")  # the labels a cry detector's false alarms are counted on
# what giulbia's folders really hold (the manifest's `kind`; its noise is ESC-50 household and street sounds)
GIULBIA_KINDS = {"laugh": "laughing", "noise": "household_street", "silence": "silence", "cry": CRY_KIND}


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    sources: tuple[SourceSpec, ...]
    description: str = ""


_DONATEACRY_SRC = SourceSpec(name="donateacry", root="corpus/donateacry", grouping="uuid")

CORPORA: dict[str, CorpusSpec] = {
    "donateacry": CorpusSpec(
        name="donateacry",
        sources=(_DONATEACRY_SRC,),
        description="Donate-a-Cry (cleaned): 5 cry reasons, one folder per class, grouped by app-instance uuid.",
    ),
    "combined": CorpusSpec(
        name="combined",
        sources=(
            SourceSpec(name="donateacry", root="corpus/donateacry", grouping="uuid", tag_labels={"ch": "cold_hot"}),
            SourceSpec(
                name="giulbia",
                root="corpus/giulbia",
                folders={"laugh": "laugh", "silence": "silence", "noise": "noise", "cry": UNKNOWN_CRY},
                grouping="recording",
                folder_grouping={"silence": "folder"},
                cry_labels=frozenset({UNKNOWN_CRY}),
                folder_kinds=GIULBIA_KINDS,
            ),
        ),
        description="Donate-a-Cry reasons (cold/hot split back out) + laugh/silence/noise and unlabelled cries "
                    "(cry_unknown, for the cry gate only) from giulbia/baby_cry_detection.",
    ),
}


CRY, SPEECH = "cry", "speech"  # CRY is also the two-stage gate's cry class (models/two_stage.py)
NON_CRY = frozenset({"laugh", "silence", "noise", "speech"})


def is_cry(label: str) -> bool:
    """Is this class label a cry (with or without a reason)?"""
    return label not in NON_CRY
_REASON_FOLDERS = ("hungry", "discomfort", "tired", "belly_pain", "burping")
DETECTOR_CLASSES = (CRY, "laugh", "noise", "silence", SPEECH)  # what the cry detector can say it heard

CORPORA["detect"] = CorpusSpec(
    name="detect",
    sources=(
        SourceSpec(name="donateacry", root="corpus/donateacry", grouping="uuid",
                   folders={f: CRY for f in _REASON_FOLDERS}, cry_labels=frozenset({CRY})),
        SourceSpec(name="giulbia", root="corpus/giulbia",
                   folders={"laugh": "laugh", "silence": "silence", "noise": "noise", "cry": CRY},
                   grouping="recording", folder_grouping={"silence": "folder"}, cry_labels=frozenset({CRY}),
                   folder_kinds=GIULBIA_KINDS),
        # the optional sources below add no rows where their folder is missing (no ../shared/data)
        # Donate-a-Cry uploads the curators rejected by listening as not a cry: mostly a parent talking, a quiet
        # room, music. Label "noise" (the detector's job is cry vs not; their speech is not separated out), kind
        # "same_app", or "same_app_uncertain" where YAMNet hears a baby's voice (yamnet_max_infant >= 0.2: some
        # may hold fussing or a cry under speech; scored apart, never trained on); grouped by app uuid like
        # donateacry's cries, so one app's cries and rejects share a side. Left out: < 1 s (2 hold no audio at all).
        SourceSpec(name="dac-rejected", root="corpus/dac-rejected", label="noise", kind_rule="same_app",
                   cry_labels=frozenset(), grouping="uuid", table=MetaTable("labels.tsv", key="file", match="name"),
                   min_duration=1.0, optional=True),
        SourceSpec(name="speech-more", root="corpus/speech-more", label=SPEECH, kind_rule="speaker",
                   cry_labels=frozenset(), grouping="folder", group_prefix="speaker:",
                   table=MetaTable("speakers.tsv", key="speaker", match="folder"), optional=True),
        SourceSpec(name="urbansound", root="corpus/urbansound", label="noise", kind="household_street",
                   cry_labels=frozenset(), table=MetaTable("clips.tsv", key="file", match="path"),
                   group_column="fsID", group_prefix="fsID:", optional=True),
        # AudioSet "Baby laughter" and "Belly laugh" clips (one YouTube video each; grouped by video across both
        # kinds). Never copied into the repository or a run folder (the audio belongs to the videos' uploaders).
        SourceSpec(name="laughter", root="corpus/laughter", label="laugh", kind_rule="column", cry_labels=frozenset(),
                   table=MetaTable("clips.tsv", key="file", match="path"), group_column="youtube_id",
                   group_prefix="yt:", optional=True),
        # last: tests and tools read it as sources[-1]
        SourceSpec(name="derived", root="derived", folders={"speech": SPEECH, "roomtone": "silence"},
                   grouping="recording", cry_labels=frozenset(), derived=("speech", "roomtone"),
                   folder_kinds={"speech": "speech_men", "roomtone": "silence"}),
    ),
    description="The cry detector's corpus: every Donate-a-Cry and giulbia cry as 'cry'; giulbia laugh / noise / "
                "silence; adult speech joined from FSDD (grouped by speaker); generated quiet rooms (silence). "
                "Where present (../shared/data): rejected Donate-a-Cry uploads of the same apps as noise "
                "(kind same_app, or same_app_uncertain where YAMNet hears a baby's voice; grouped by app uuid with "
                "their cries), AudioSet's laughing babies and belly laughs (kinds baby_laughter and belly_laugh, "
                "by video), read English speech of children, women "
                "and men (speechocean762, by speaker) and UrbanSound8K street and household sounds (noise, by "
                "fsID; CC BY-NC: development and tests only).",
)


def get_corpus(name: str) -> CorpusSpec:
    try:
        return CORPORA[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; valid: {', '.join(sorted(CORPORA))}") from None


def class_roles(manifest) -> dict:
    """Which corpus labels play which part.

    all: every label (cry_unknown included); labels: the model's output classes (all but cry_unknown);
    cry: model classes that are cries (= reason); reason: cry classes with a reason; non_cry: the rest;
    gate: the gate's classes (cry + non_cry).
    """
    is_cry = manifest.groupby("label")["is_cry"].all()
    every = sorted(is_cry.index.astype(str))
    labels = [c for c in every if c != UNKNOWN_CRY]
    reason = [c for c in labels if is_cry[c]]
    non_cry = [c for c in labels if not is_cry[c]]
    if CRY in labels:
        raise ValueError(f"the corpus has a class named {CRY!r}: it would clash with the gate's cry class")
    if not reason:
        raise ValueError("the corpus has no cry class with a reason: the reason stage has nothing to learn")
    if not non_cry:
        raise ValueError("the corpus has no non-cry class (laugh / noise / silence): use a one-stage model")
    return {"all": every, "labels": labels, "cry": reason, "reason": reason, "non_cry": non_cry,
            "gate": sorted([CRY] + non_cry)}
