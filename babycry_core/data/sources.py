"""Sources of a corpus: one folder each, the rules that give its files a label, a kind and a group.

A `SourceSpec` (listed by a `CorpusSpec` in corpora.py) says where its files are and how to read them:

- label: class folders (`folders`, Donate-a-Cry reason tags in `tag_labels`), or one `label` for every file
  (top level and one folder down: a flat upload bucket, speaker folders, sound-class folders);
- kind: what the sound really is, finer than the label (speech_children vs speech_men, same_app uploads vs
  household_street noise): a fixed `kind`, `folder_kinds`, or a `kind_rule` reading the source's metadata table;
  by default "cry" for cries and the label otherwise;
- group: the files that come from one baby, speaker or recording (splits never separate a group): a `grouping`
  rule on the file name, or a column of the metadata table (`group_column`), with an optional `group_prefix`
  that keeps one source's group names apart from another's;
- a `MetaTable` (a TSV in the source folder, one row per file or per folder) feeds the kind and group rules and
  the exclusions: `max_meta` (e.g. a YAMNet cry score above 0.3) and `min_duration` (seconds);
- `optional`: a source whose folder is missing adds no rows (the corpus builds as it did without it).

`Entry` is one file with everything the manifest needs except what decoding tells; `SourceSpec.entries` lists
them and says why the others were skipped. Nothing here decodes audio.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".3gp", ".caf", ".webm", ".opus", ".aiff")
CRY_KIND = "cry"  # the kind of every cry unless a source says otherwise

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
    # the uuid as written: Android uuids are lower case, iOS upper case, and one app is on one platform, so a
    # uuid's cleaned cries (donateacry/) and its rejected uploads (dac-rejected/) spell it the same way
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
    "folder": lambda stem, folder: folder,  # the whole folder is one recording (or one speaker)
    "file": lambda stem, folder: stem,  # every file independent
}

CHILD_MAX_AGE = 12  # speech_children: speakers aged 12 or under (voices closest to a cry's pitch)


def _kind_speaker(row: Mapping[str, str]) -> str:
    """speech_children (age <= 12), else speech_women / speech_men by the speaker's gender (f|m)."""
    age, gender = int(float(row["age"])), str(row["gender"]).strip().lower()
    if age <= CHILD_MAX_AGE:
        return "speech_children"
    if gender not in ("f", "m"):
        raise ValueError(f"gender {row['gender']!r} is neither f nor m")
    return "speech_women" if gender == "f" else "speech_men"


UNCERTAIN_INFANT = 0.2  # a same-app upload whose YAMNet infant-voice score reaches this may hold a cry under speech


def _kind_same_app(row: Mapping[str, str]) -> str:
    """same_app_uncertain where YAMNet hears a baby's voice (yamnet_max_infant >= UNCERTAIN_INFANT), else same_app."""
    return "same_app_uncertain" if float(row["yamnet_max_infant"]) >= UNCERTAIN_INFANT else "same_app"


def _kind_column(row: Mapping[str, str]) -> str:
    """The table's own `kind` column (laughter/clips.tsv: baby_laughter or belly_laugh)."""
    kind = str(row["kind"]).strip()
    if not kind:
        raise ValueError("empty kind")
    return kind


KIND_RULES = {"speaker": _kind_speaker, "same_app": _kind_same_app, "column": _kind_column}  # metadata row -> kind


class Skip(Exception):
    """A file the source leaves out; the message says why (it goes to failed.csv)."""


@dataclass(frozen=True)
class MetaTable:
    """A tab-separated table in the source folder: one row per file, or per folder (a speaker)."""

    file: str  # e.g. "labels.tsv", relative to the source root
    key: str  # the column that names the file or folder
    match: str = "path"  # what the key holds: "path" (relative to the root, with extension), "name", "folder"

    def read(self, root: Path) -> dict[str, dict]:
        path = Path(root) / self.file
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (the source's metadata table)")
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows and self.key not in rows[0]:
            raise ValueError(f"{path} has no column {self.key!r}")
        return {r[self.key]: r for r in rows}

    def key_of(self, rel: Path) -> str:
        if self.match == "path":
            return rel.as_posix()
        if self.match == "name":
            return rel.name
        if self.match == "folder":
            return rel.parent.as_posix()
        raise ValueError(f"MetaTable.match must be path, name or folder, not {self.match!r}")


@dataclass(frozen=True)
class Entry:
    """One file of a source, before decoding: what the manifest row takes from the name, folder and table."""

    path: Path
    rel: Path  # relative to the source root
    folder: str  # its folder under the root ("" at the top level)
    label: str
    kind: str
    group: str
    is_cry: bool
    parsed: dict  # Donate-a-Cry name fields ({} for other names)


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
    label: str | None = None  # one label for every file (top level and one folder down); folders are no classes
    kind: str | None = None  # fixed kind; None: folder_kinds, kind_rule, else "cry" for cries and the label
    folder_kinds: Mapping[str, str] = field(default_factory=dict)  # folder -> kind
    kind_rule: str | None = None  # a KIND_RULES name, applied to the file's metadata row
    table: MetaTable | None = None  # metadata; a file without a row is skipped
    group_column: str | None = None  # group = this column of the metadata row (instead of `grouping`)
    group_prefix: str = ""  # prepended to every group of this source (keeps e.g. speaker ids apart)
    max_meta: Mapping[str, float] = field(default_factory=dict)  # skip a file whose column is above the value
    min_duration: float = 0.0  # skip files shorter than this (seconds, as decoded)
    optional: bool = False  # a missing folder adds no rows instead of failing the build

    def label_for(self, folder: str, reason: str | None) -> str | None:
        """The label of a file in `folder` with this reason tag; None if the folder is not a class."""
        if self.label is not None:
            label = self.label
        elif self.folders is None:
            label = folder
        elif folder in self.folders:
            label = self.folders[folder]
        else:
            return None
        return self.tag_labels.get(reason, label) if reason else label

    def group_for(self, stem: str, folder: str, row: Mapping[str, str] | None = None) -> str:
        if self.group_column:
            if row is None or not str(row.get(self.group_column, "")).strip():
                raise Skip(f"no {self.group_column} in the metadata table")
            return self.group_prefix + str(row[self.group_column]).strip()
        rule = self.folder_grouping.get(folder, self.grouping)
        return self.group_prefix + GROUPING[rule](stem, folder)

    def kind_for(self, label: str, folder: str, row: Mapping[str, str] | None = None) -> str:
        if self.kind is not None:
            return self.kind
        if folder in self.folder_kinds:
            return self.folder_kinds[folder]
        if self.kind_rule is not None:
            try:
                return KIND_RULES[self.kind_rule](row or {})
            except (KeyError, TypeError, ValueError) as e:
                raise Skip(f"no kind from the metadata ({type(e).__name__}: {e})") from None
        return CRY_KIND if self.is_cry(label) else label

    def is_cry(self, label: str) -> bool:
        return True if self.cry_labels is None else label in self.cry_labels

    def files(self, root: Path):
        """(path, folder) of every audio file this source reads under root, sorted; folder is "" at the top."""
        root = Path(root)
        if self.label is not None:  # one label: the top level and every sub-folder
            folders = [root] + sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        else:
            folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                             and self.label_for(d.name, None) is not None)
        for d in folders:
            folder = "" if d == root else d.name
            for f in sorted(d.iterdir()):
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in self.extensions:
                    yield f, folder

    def entries(self, root: Path):
        """(Entry, None) for each file to probe, or (path, why) for one this source leaves out. Decodes nothing;
        `min_duration` is checked by the caller, once the duration is known."""
        table = self.table.read(root) if self.table else None
        for f, folder in self.files(root):
            rel = f.relative_to(root)
            row = None
            try:
                if table is not None:
                    row = table.get(self.table.key_of(rel))
                    if row is None:
                        raise Skip(f"no row in {self.table.file}")
                    for col, top in self.max_meta.items():
                        value = float(row[col])
                        if value > top:
                            raise Skip(f"excluded: {col} {value:g} > {top:g}")
                parsed = parse_donateacry_name(f.name) or {}
                label = self.label_for(folder, parsed.get("reason", ""))
                stem = f.name[: -len(f.suffix)] if f.suffix else f.name
                yield Entry(path=f, rel=rel, folder=folder, label=label, kind=self.kind_for(label, folder, row),
                            group=self.group_for(stem, folder, row), is_cry=self.is_cry(label), parsed=parsed), None
            except Skip as why:
                yield f, str(why)
            except (KeyError, ValueError) as e:  # a bad table cell: reported like a bad file
                yield f, f"bad metadata ({type(e).__name__}: {e})"

    def too_short(self, seconds: float) -> str | None:
        """Why a file of this length is left out, or None."""
        if self.min_duration and seconds < self.min_duration:
            return f"excluded: {seconds:.2f} s < {self.min_duration:g} s"
        return None
