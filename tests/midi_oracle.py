"""The reference the MIDI reader is tested against: music21's low-level ``music21.midi`` module.

music21 parses the bytes into events; the events go through the reader's own pairing code
(:class:`helpers.midi_reader._Collector`), so a difference between the two tables is a
difference in decoding the bytes. Only the tests use it (``test_midi_io.py``,
``test_midi_reader.py``); the library reads with its own decoder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from helpers import midi_io, midi_reader
from helpers.midi_reader import _NAME, _OFF, _ON, _PROGRAM, Extract, Limits, MidiLoadError


def _music21_events(track) -> Iterator[tuple]:
    """The event stream of one ``music21.midi.MidiTrack``, as ``midi_reader._fast_events`` gives it."""
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
    yield tick, -1, 0, 0, 0


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
    division = int.from_bytes(data[12:14], "big")
    collector = midi_reader._Collector(limits or Limits(), midi_reader._ticks_per_quarter(division), None)
    for index, track in enumerate(midi_file.tracks):
        collector.add_track(_music21_events(track), index)
    extract = collector.finish([])
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
