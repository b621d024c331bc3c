"""Corpus specs: which folders hold which classes, and which files come from the same recording.

A corpus is data, not a code path. `CorpusSpec` lists its sources; each `SourceSpec` names a root folder
(relative to `paths.data_dir()`), how its class folders (or Donate-a-Cry reason tags) map to labels, and the
grouping rule that says which files come from one baby or one recording (splits never separate a group).
`data.build_manifest` walks a spec; nothing else in the project knows the class list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

UNKNOWN_CRY = "cry_unknown"  # a cry with no reason label: the cry/no-cry gate uses it, the reason model does not

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".3gp", ".caf", ".webm", ".opus", ".aiff")

# <uuid>-<unix time>-<app version>-<gender m|f>-<age 04|48|26|72|22>-<reason>[.ext]; the uuid has dashes itself,
# and iOS writes it upper case. Android times are milliseconds, iOS times seconds.
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_DONATEACRY = re.compile(
    rf"^(?P<uuid>{_UUID})-(?P<timestamp>\d{{9,13}})-(?P<app_version>\d+(?:\.\d+)*)"
    r"-(?P<gender>[mf])-(?P<age>04|48|26|72|22)-(?P<reason>[a-z]{2})(?:\.[A-Za-z0-9]{1,5})?$"
)
_ESC50 = re.compile(r"^(?P<id>\d+-\d+)-[A-Z]$")  # ESC-50: <fold>-<freesound id>-<take>
_WINDOW = re.compile(r"^(?P<rec>.+)_\d+$")  # <recording>_<window index>


def parse_donateacry_name(name: str) -> dict | None:
    """Fields of a Donate-a-Cry file name (with or without folder and extension), or None if it is not one.

    timestamp is in unix seconds (Android names carry milliseconds), age the tag as written ("04").
    """
    m = _DONATEACRY.match(Path(str(name)).name)
    if not m:
        return None
    d = m.groupdict()
    ts = int(d["timestamp"])
    d["timestamp"] = ts // 1000 if ts > 10**11 else ts
    return d


def _group_uuid(stem: str, folder: str) -> str:
    parsed = parse_donateacry_name(stem)
    return parsed["uuid"] if parsed else stem


def _group_recording(stem: str, folder: str) -> str:
    m = _ESC50.match(stem)
    if m:
        return m["id"]
    m = _WINDOW.match(stem)
    return m["rec"] if m else stem


GROUPING = {
    "uuid": _group_uuid,  # Donate-a-Cry app-instance uuid (one installed app ~ one baby); else the file itself
    "recording": _group_recording,  # ESC-50 source id, or the part before `_N` for windows of one recording
    "folder": lambda stem, folder: folder,  # the whole class folder is one recording
    "file": lambda stem, folder: stem,  # every file independent
}


@dataclass(frozen=True)
class SourceSpec:
    name: str  # `source` column and clip_id prefix
    root: str  # folder-per-class root, relative to data_dir() (or absolute)
    folders: Mapping[str, str] | None = None  # class folder -> label; None: every sub-folder, label = its name
    tag_labels: Mapping[str, str] = field(default_factory=dict)  # Donate-a-Cry reason tag -> label (overrides folder)
    grouping: str = "uuid"  # a GROUPING rule
    folder_grouping: Mapping[str, str] = field(default_factory=dict)  # per-folder override of `grouping`
    cry_labels: frozenset | None = None  # labels that are cries (is_cry); None: all of them
    extensions: tuple = AUDIO_EXTENSIONS
    derived: tuple = ()  # class folders that derived.py builds under root (e.g. "speech", "roomtone")

    def label_for(self, folder: str, reason: str | None) -> str | None:
        """The label of a file in `folder` with this reason tag; None if the folder is not a class."""
        if self.folders is None:
            label = folder
        elif folder in self.folders:
            label = self.folders[folder]
        else:
            return None
        return self.tag_labels.get(reason, label) if reason else label

    def group_for(self, stem: str, folder: str) -> str:
        rule = self.folder_grouping.get(folder, self.grouping)
        return GROUPING[rule](stem, folder)

    def is_cry(self, label: str) -> bool:
        return True if self.cry_labels is None else label in self.cry_labels


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
                   grouping="recording", folder_grouping={"silence": "folder"}, cry_labels=frozenset({CRY})),
        SourceSpec(name="derived", root="derived", folders={"speech": SPEECH, "roomtone": "silence"},
                   grouping="recording", cry_labels=frozenset(), derived=("speech", "roomtone")),
    ),
    description="The cry detector's corpus: every Donate-a-Cry and giulbia cry as 'cry'; giulbia laugh / noise / "
                "silence; adult speech joined from FSDD (grouped by speaker); generated quiet rooms (silence).",
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
