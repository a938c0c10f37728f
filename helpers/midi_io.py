"""Find MIDI files, read them into a table of notes, cache what was read, report what was lost.

Explained in notebook 01 (reading one file) and notebook 02 (the whole folder).

The table of notes has one row per sounding note, with times in **quarter lengths** (music21's
unit) measured from the start of the piece:

=========== ======= ==========================================================
column      dtype   meaning
=========== ======= ==========================================================
piece       str     file name relative to the folder that was loaded
part        int     index of the part (MIDI track/channel) the note came from
instrument  str     that part's instrument name ("" when the file names none)
offset      float   onset, quarter lengths from the start of the piece
duration    float   length in quarter lengths
pitch       int     MIDI note number, 0..127 inclusive
velocity    int     MIDI velocity, 1..127 inclusive
=========== ======= ==========================================================

Every pitched part is read — not only ``partitionByInstrument(s).parts[0]`` as in the chapter,
which silently loses whole files — and drum hits (MIDI channel 10) are counted, not kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from helpers import config

#: File endings taken as MIDI, compared in lower case.
MIDI_SUFFIXES = (".mid", ".midi")
#: Columns of the notes table, in order.
NOTE_COLUMNS = ["piece", "part", "instrument", "offset", "duration", "pitch", "velocity"]
#: Bumped whenever extraction changes, so that old cache entries are not reused.
EXTRACTOR_VERSION = 1


class MidiError(Exception):
    """Base class of the errors raised while reading MIDI."""


class MidiLoadError(MidiError):
    """One file could not be used; ``reason`` is a short label, the message says what to do."""

    def __init__(self, path: Path | str, reason: str, detail: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        message = f"{self.path.name}: {reason}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class NoUsableMidiError(MidiError):
    """A folder gave no usable music at all: training cannot start."""


def find_midi_files(folder: Path | str) -> list[Path]:
    """List the MIDI files below ``folder``, searched recursively, sorted by relative path.

    Names ending in ``.mid`` or ``.midi`` in any letter case count; hidden files and folders
    (names starting with ``.``) and directories whose name looks like a MIDI file are passed
    over; symbolic links to folders are not followed (no loops).

    Args:
        folder: the folder to search.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MIDI folder not found: {folder}")
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(here) / name
            if name.startswith(".") or not name.lower().endswith(MIDI_SUFFIXES):
                continue
            if path.is_file():  # dangling links and odd entries are not files
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _instrument_name(part) -> str:
    """Best instrument name of a music21 part (the last named instrument in it)."""
    from music21 import instrument

    names = [
        inst.instrumentName or inst.partName or ""
        for inst in part.recurse().getElementsByClass(instrument.Instrument)
    ]
    names = [n for n in names if n]
    return names[-1] if names else ""


def midi_to_notes(path: Path | str, piece: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read one MIDI file with music21 into a notes table (see the module docstring).

    All pitched parts are kept; tied notes are merged into one (``stripTies``); onsets are
    not quantized (``quantizePost=False``). Drum hits are counted in ``info["drum_hits"]``.

    Args:
        path: the MIDI file.
        piece: the name written in the ``piece`` column (default: the file name).

    Returns:
        ``(notes, info)`` where ``info`` has ``instruments`` (names per part) and ``drum_hits``.

    Raises:
        MidiLoadError: the file is not MIDI, is corrupt, or holds no pitched notes.
    """
    from music21 import converter, note, percussion

    path = Path(path)
    piece = piece or path.name
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise MidiLoadError(path, "unreadable", str(error)) from error
    if head != b"MThd":
        raise MidiLoadError(path, "not MIDI", "the file does not start with a MIDI header")
    try:
        score = converter.parseFile(
            path, format="midi", forceSource=True, storePickle=False, quantizePost=False
        )
    except Exception as error:  # music21 raises many kinds on damaged files
        raise MidiLoadError(path, "corrupt", f"{type(error).__name__}: {error}") from error

    rows, instruments, drum_hits = [], [], 0
    parts = list(getattr(score, "parts", [])) or [score]
    for index, part in enumerate(parts):
        name = _instrument_name(part)
        instruments.append(name)
        for element in part.stripTies().flatten().notes:
            if isinstance(element, (note.Unpitched, percussion.PercussionChord)):
                drum_hits += len(getattr(element, "notes", [element]))
                continue
            offset = float(element.offset)
            duration = float(element.quarterLength)
            velocity = element.volume.velocity or 64
            for pitch in element.pitches:
                rows.append((piece, index, name, offset, duration, int(pitch.midi), int(velocity)))
    notes = pd.DataFrame(rows, columns=NOTE_COLUMNS)
    if notes.empty:
        detail = f"{drum_hits} drum hits only" if drum_hits else "the file holds no notes"
        raise MidiLoadError(path, "no pitched notes", detail)
    return tidy_notes(notes), {"instruments": instruments, "drum_hits": drum_hits}


def tidy_notes(notes: pd.DataFrame) -> pd.DataFrame:
    """Give a notes table its dtypes and its order (by onset, then pitch)."""
    notes = notes.astype(
        {"part": "int16", "offset": "float64", "duration": "float64", "pitch": "int16", "velocity": "int16"}
    )
    return notes.sort_values(["offset", "pitch", "part"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- cache


def _cache_key(path: Path) -> str:
    digest = hashlib.sha256()
    digest.update(f"extractor={EXTRACTOR_VERSION};reader=music21;".encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_read(file: Path, piece: str) -> tuple[pd.DataFrame, dict] | None:
    try:
        payload = json.loads(file.read_text())
        columns = payload["columns"]
        notes = pd.DataFrame({name: columns[name] for name in NOTE_COLUMNS[3:]})
        notes.insert(0, "piece", piece)
        notes.insert(1, "part", columns["part"])
        notes.insert(2, "instrument", [payload["instruments"][p] for p in columns["part"]])
        return tidy_notes(notes), {"instruments": payload["instruments"], "drum_hits": payload["drum_hits"]}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None  # a damaged entry is simply read again from the MIDI file


def _cache_write(file: Path, notes: pd.DataFrame, info: dict) -> None:
    payload = {
        "version": EXTRACTOR_VERSION,
        "instruments": info["instruments"],
        "drum_hits": info["drum_hits"],
        "columns": {name: notes[name].tolist() for name in NOTE_COLUMNS[1:] if name != "instrument"},
    }
    config.ensure_dir(file.parent)
    temporary = file.with_suffix(f".tmp{os.getpid()}")
    temporary.write_text(json.dumps(payload, separators=(",", ":")))
    os.replace(temporary, file)  # atomic: a crash never leaves half an entry


# ----------------------------------------------------------------------------- folders


@dataclass
class LoadReport:
    """What a load used and what it skipped, with the reason. Shown in notebook 02."""

    used: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    @property
    def notes_kept(self) -> int:
        return sum(entry["notes"] for entry in self.used)

    @property
    def drum_hits(self) -> int:
        return sum(entry["drum_hits"] for entry in self.used)

    def to_frame(self) -> pd.DataFrame:
        """One row per file: piece, status (``used`` or ``skipped``), notes, drum hits, reason."""
        rows = [
            {"piece": e["piece"], "status": "used", "notes": e["notes"], "drum_hits": e["drum_hits"], "reason": ""}
            for e in self.used
        ] + [
            {"piece": e["piece"], "status": "skipped", "notes": 0, "drum_hits": 0, "reason": e["reason"]}
            for e in self.skipped
        ]
        return pd.DataFrame(rows, columns=["piece", "status", "notes", "drum_hits", "reason"])

    def __str__(self) -> str:
        total = len(self.used) + len(self.skipped)
        lines = [
            f"Used {len(self.used)} of {total} files: {self.notes_kept:,} notes kept, "
            f"{self.drum_hits:,} drum hits left out."
        ]
        for entry in self.skipped:
            lines.append(f"  skipped {entry['piece']}: {entry['reason']}")
        return "\n".join(lines)


def load_midi_files(
    paths: Iterable[Path | str],
    root: Path | str | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read many MIDI files into one notes table; a bad file is skipped, never fatal.

    Args:
        paths: the files.
        root: piece names are written relative to this folder (default: file names).
        cache: reuse notes extracted earlier from a file with the same content.
        cache_dir: where the cache lives (default ``outputs/cache/notes``).

    Returns:
        ``(notes, report)``; ``notes`` may be empty, the report says why.
    """
    cache_dir = Path(cache_dir or config.CACHE_DIR / "notes")
    tables, report = [], LoadReport()
    for path in map(Path, paths):
        piece = path.relative_to(root).as_posix() if root else path.name
        try:
            key = _cache_key(path)
        except OSError as error:
            report.skipped.append({"piece": piece, "reason": f"unreadable ({error.strerror})"})
            continue
        entry = cache_dir / f"{key}.json"
        found = _cache_read(entry, piece) if cache else None
        if found is None:
            try:
                found = midi_to_notes(path, piece)
            except MidiLoadError as error:
                label = error.reason + (f" ({error.detail})" if error.detail else "")
                report.skipped.append({"piece": piece, "reason": label})
                continue
            if cache:
                _cache_write(entry, *found)
        notes, info = found
        tables.append(notes)
        report.used.append({"piece": piece, "notes": len(notes), "drum_hits": info["drum_hits"]})
    notes = pd.concat(tables, ignore_index=True) if tables else tidy_notes(pd.DataFrame(columns=NOTE_COLUMNS))
    return notes, report


def load_midi_folder(
    folder: Path | str | None = None, limit: int | None = None, seed: int | None = None, **kwargs
) -> tuple[pd.DataFrame, LoadReport]:
    """Load a folder of MIDI files (default: the shipped ``data/midi``).

    Args:
        folder: any folder; searched recursively (see :func:`find_midi_files`).
        limit: take only this many files — a reproducible random sample when ``seed`` is
            given (the chapter picks 5 at random), else the first ones in name order.
        seed: seed of that sample.
        **kwargs: passed to :func:`load_midi_files` (``cache``, ``cache_dir``).

    Raises:
        FileNotFoundError: the folder does not exist.
        NoUsableMidiError: no file in it gave any pitched note.
    """
    folder = Path(folder or config.DATA_DIR)
    paths = find_midi_files(folder)
    if limit is not None and limit < len(paths):
        if seed is None:
            paths = paths[:limit]
        else:
            import random

            paths = sorted(random.Random(seed).sample(paths, limit))
    notes, report = load_midi_files(paths, root=folder, **kwargs)
    if notes.empty:
        raise NoUsableMidiError(
            f"No usable MIDI in {folder}: {len(paths)} candidate files, none with pitched notes.\n"
            + str(report)
            + "\nPoint the loader at a folder of .mid/.midi files."
        )
    return notes, report
