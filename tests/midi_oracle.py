"""The reference the MIDI reader is tested against: music21's low-level ``music21.midi`` module.

music21 parses the bytes into events; :func:`pair_track` pairs them, written here a second time
in plain Python (dictionaries and queues) from the rules in :mod:`helpers.midi_reader`, so the
library's compiled loop (:mod:`helpers.track_decoder`, which decodes and pairs in one pass) is
checked by code that shares nothing with it but the assembly of the table
(``midi_reader._extract``). Only the tests use it (``test_midi_io.py``, ``test_midi_reader.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import midi_io, midi_reader
from helpers.constants import DRUM_CHANNEL
from helpers.midi_reader import Extract, Limits, MidiLoadError

# Event kinds of the stream :func:`pair_track` takes: (tick, kind, channel counted from 0, a, b).
_ON, _OFF, _PROGRAM, _NAME = 0, 1, 2, 3


def pair_track(events: Iterable[tuple], track: int, max_ticks: float, notes_before: int, max_notes: int):
    """One track's events → its notes as ``track_decoder.decode_tracks`` returns them, but in the
    order notes end: rows (part, begin, end, pitch, velocity), parts numbered from 0 in the order
    they end their first note, their tracks and programs; and the note-ons so far, the drum hits
    and the track's name. Raises ``MidiLoadError`` at a limit."""
    rows = []
    part_of: dict[int, int] = {}
    part_track, part_program = [], []

    def part(channel: int) -> int:
        if channel not in part_of:
            part_of[channel] = len(part_track)
            part_track.append(track)
            part_program.append(programs.get(channel, -1))
        return part_of[channel]

    programs: dict[int, int] = {}
    sounding: dict[tuple[int, int], deque[tuple[int, int]]] = {}  # oldest first
    unmatched_at, unmatched = -1, set()  # note-offs that found nothing sounding, at this tick
    name, tick, note_ons, drum_hits = None, 0, notes_before, 0

    def too_long(at):
        return MidiLoadError("too long", f"at tick {at}")

    for tick, kind, channel, a, b in events:
        if kind == _ON:
            note_ons += 1
            if note_ons > max_notes:
                raise MidiLoadError("too many notes", f"over the limit of {max_notes:,} note-ons")
            if tick > max_ticks:
                raise too_long(tick)
            if channel == DRUM_CHANNEL:
                drum_hits += 1
            elif tick == unmatched_at and (channel, a) in unmatched:  # a grace note written note-off first
                unmatched.discard((channel, a))
                rows.append((part(channel), tick, tick, a, b))
            else:
                sounding.setdefault((channel, a), deque()).append((tick, b))
        elif kind == _OFF:
            started = sounding.get((channel, a))
            if started:
                begin, velocity = started.popleft()
                rows.append((part(channel), begin, tick, a, velocity))
            elif channel != DRUM_CHANNEL:
                if tick != unmatched_at:
                    unmatched_at, unmatched = tick, set()
                unmatched.add((channel, a))
        elif kind == _PROGRAM:
            programs[channel] = a
        elif kind == _NAME and name is None:
            name = a
    for (channel, pitch), started in sounding.items():  # notes never released end with the track
        if started and tick > max_ticks:
            raise too_long(tick)
        for begin, velocity in started:
            rows.append((part(channel), begin, tick, pitch, velocity))
    found = (np.array(rows, dtype=np.int64).reshape(-1, 5), np.array(part_track, np.int64), np.array(part_program, np.int64))
    return found, note_ons, drum_hits, (name.decode("latin-1").strip() if isinstance(name, bytes) else "")


def _music21_events(track) -> Iterator[tuple]:
    """The event stream of one ``music21.midi.MidiTrack``, for :func:`pair_track`."""
    from music21.midi import ChannelVoiceMessages, DeltaTime, MetaEvents

    note_on, note_off = ChannelVoiceMessages.NOTE_ON, ChannelVoiceMessages.NOTE_OFF
    program_change, track_name = ChannelVoiceMessages.PROGRAM_CHANGE, MetaEvents.SEQUENCE_TRACK_NAME
    tick = 0
    for event in track.events:
        if isinstance(event, DeltaTime):
            tick += event.time
            continue
        kind, channel = event.type, (event.channel or 1) - 1  # music21 counts channels from 1
        if kind == note_on:
            yield tick, _ON if event.velocity > 0 else _OFF, channel, event.pitch, event.velocity
        elif kind == note_off:
            yield tick, _OFF, channel, event.pitch, 0
        elif kind == program_change:
            yield tick, _PROGRAM, channel, event.data, 0
        elif kind == track_name:
            yield tick, _NAME, 0, event.data, 0
    yield tick, -1, 0, 0, 0  # the track's last tick, for notes never released


def music21_to_extract(data: bytes, limits: Limits | None = None) -> Extract:
    """Events from ``music21.midi``, paired by the reader's code; raises ``MidiLoadError`` as the reader does."""
    from music21 import midi

    if data[:4] != b"MThd":
        midi_reader._locate_header(data)  # raises "not MIDI" with the reason
        raise MidiLoadError("corrupt", "music21 needs the MIDI header at the start of the file")
    midi_file = midi.MidiFile()
    try:
        midi_file.readstr(data)
    except Exception as error:  # music21 raises many kinds on damaged files
        raise MidiLoadError("corrupt", f"{type(error).__name__}: {error}") from error
    limits = limits or Limits()
    tpq = midi_reader._ticks_per_quarter(int.from_bytes(data[12:14], "big"))
    notes, part_track, part_program = [np.zeros((0, 5), np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    names, note_ons, drum_hits = [], 0, 0
    for index, track in enumerate(midi_file.tracks):
        (rows, tracks, programs), note_ons, hits, name = pair_track(
            _music21_events(track), index, limits.max_quarters * tpq, note_ons, limits.max_notes
        )
        rows[:, 0] += sum(len(p) for p in part_track)  # parts numbered across the file
        notes.append(rows)
        part_track.append(tracks)
        part_program.append(programs)
        names.append(name)
        drum_hits += hits
    extract = midi_reader._extract(
        np.concatenate(notes), np.concatenate(part_track), np.concatenate(part_program), tpq, names, drum_hits, []
    )
    if not len(extract):
        detail = f"{extract.drum_hits} drum hits only" if extract.drum_hits else "the file holds no notes"
        raise MidiLoadError("no pitched notes", detail)
    return extract


def music21_to_notes(path: Path | str, piece: str | None = None) -> tuple[pd.DataFrame, dict]:
    """What ``midi_io.midi_to_notes`` gives, read by music21: ``(notes, info)``; raises ``MidiLoadError``."""
    path = Path(path)
    try:
        extract = music21_to_extract(midi_reader.file_bytes(path, Limits()))
    except MidiLoadError as error:
        error.path = path
        raise
    return midi_io.extracts_to_notes([(piece or path.name, extract)]), extract.info()
