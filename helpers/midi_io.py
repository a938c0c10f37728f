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
EXTRACTOR_VERSION = 2


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


#: MIDI channel of drums in General MIDI (channel 10, counted from 1; 9 counted from 0).
DRUM_CHANNEL = 10


def _program_name(program: int) -> str:
    """General MIDI instrument name of a program number, as music21 names it."""
    from music21 import instrument

    try:
        return instrument.instrumentFromMidiProgram(program).instrumentName or ""
    except instrument.InstrumentException:
        return ""


def _track_notes(track):
    """Pair the note-on and note-off events of one music21 ``MidiTrack``.

    Yields ``(channel, program, start_tick, end_tick, pitch, velocity)`` per note, channels
    counted from 1 as music21 does, ``program`` ``None`` before any program change. A note-off (or note-on with velocity 0) ends the oldest sounding note of that pitch and
    channel; a note never released ends with its track.
    """
    from music21.midi import ChannelVoiceMessages, DeltaTime

    note_on, note_off = ChannelVoiceMessages.NOTE_ON, ChannelVoiceMessages.NOTE_OFF
    program_change = ChannelVoiceMessages.PROGRAM_CHANGE
    tick, programs, sounding = 0, {}, {}
    for event in track.events:
        if isinstance(event, DeltaTime):
            tick += event.time
            continue
        kind = event.type
        if kind == program_change:
            programs[event.channel] = event.data
        elif kind == note_on and event.velocity > 0:
            sounding.setdefault((event.channel, event.pitch), []).append((tick, event.velocity))
        elif kind == note_off or kind == note_on:
            started = sounding.get((event.channel, event.pitch))
            if started:
                begin, velocity = started.pop(0)
                yield event.channel, programs.get(event.channel), begin, tick, event.pitch, velocity
    for (channel, pitch), started in sounding.items():
        for begin, velocity in started:
            yield channel, programs.get(channel), begin, tick, pitch, velocity


def midi_to_notes(path: Path | str, piece: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read one MIDI file into a notes table (see the module docstring), with music21's MIDI module.

    The notes are the file's own note events — every pitched track and channel, times from
    the file's ticks, nothing quantized. ``music21.converter.parse`` is *not* used here: on
    the way to measures and voices it moves some onsets of polyphonic tracks (by up to 12
    quarter notes in one shipped folk tune) and splits notes at bar lines; notebook 01 shows
    it. A part is one (track, channel) pair; its instrument is the General MIDI name of its
    program change, else the track's name. Drum hits (channel 10) are counted in
    ``info["drum_hits"]``, not kept.

    Args:
        path: the MIDI file.
        piece: the name written in the ``piece`` column (default: the file name).

    Returns:
        ``(notes, info)`` where ``info`` has ``instruments`` (names per part) and ``drum_hits``.

    Raises:
        MidiLoadError: the file is not MIDI, is corrupt, or holds no pitched notes.
    """
    from music21 import midi
    from music21.midi import MetaEvents

    path = Path(path)
    piece = piece or path.name
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise MidiLoadError(path, "unreadable", str(error)) from error
    if head != b"MThd":
        raise MidiLoadError(path, "not MIDI", "the file does not start with a MIDI header")
    midi_file = midi.MidiFile()
    try:
        midi_file.open(str(path))
        midi_file.read()
    except Exception as error:  # music21 raises many kinds on damaged files
        raise MidiLoadError(path, "corrupt", f"{type(error).__name__}: {error}") from error
    finally:
        midi_file.close()
    if midi_file.ticksPerQuarterNote:
        ticks_per_quarter = float(midi_file.ticksPerQuarterNote)
    elif midi_file.ticksPerSecond:  # SMPTE time: read as 120 quarter notes a minute
        ticks_per_quarter = float(midi_file.ticksPerSecond) / 2.0
    else:
        raise MidiLoadError(path, "corrupt", "the header gives no time division")

    rows, parts, instruments, drum_hits = [], {}, [], 0
    for track_index, track in enumerate(midi_file.tracks):
        names = [e.data for e in track.events if getattr(e, "type", None) == MetaEvents.SEQUENCE_TRACK_NAME]
        track_name = names[0].decode("latin-1").strip() if names and isinstance(names[0], bytes) else ""
        for channel, program, begin, end, pitch, velocity in _track_notes(track):
            if channel == DRUM_CHANNEL:
                drum_hits += 1
                continue
            key = (track_index, channel)
            if key not in parts:
                parts[key] = len(parts)
                instruments.append((_program_name(program) if program is not None else "") or track_name)
            part = parts[key]
            rows.append(
                (piece, part, instruments[part], begin / ticks_per_quarter, (end - begin) / ticks_per_quarter, pitch, velocity)
            )
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
    digest.update(f"extractor={EXTRACTOR_VERSION};reader=music21.midi;".encode())
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
