"""Shared fixtures: small synthetic MIDI files written with mido, and outputs kept in tmp_path.

The MIDI files are written with ``mido`` directly, event by event, so that they do not depend
on the code under test (``helpers`` reads and writes MIDI through music21). Times in the
fixtures are in quarter lengths (beats); the writer turns them into ticks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mido
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# notebook 10 shows its piece as plain outputs, not widgets, in the kernels nbval starts (helpers.playground)
os.environ["MUSICGEN_STATIC"] = "1"

TICKS_PER_BEAT = 480
#: MIDI channel of drums (channel 10 counted from 1).
DRUM_CHANNEL = 9

# A note in a fixture: (pitch, start in quarter lengths, duration in quarter lengths).
C_MAJOR_SCALE = [(pitch, float(i), 1.0) for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]

#: Chords voiced across several octaves (C2.G3.E5 style), two quarters each, then one note.
CHORD_VOICINGS = [
    (36, 55, 76),  # C2 G3 E5
    (41, 57, 72),  # F2 A3 C5
    (43, 59, 74, 77),  # G2 B3 D5 F5
    (48, 64, 67, 84),  # C3 E4 G4 C6
]
CHORD_NOTES = [(pitch, 2.0 * i, 2.0) for i, chord in enumerate(CHORD_VOICINGS) for pitch in chord] + [(60, 8.0, 1.0)]

#: Two parts on two tracks (and channels): a melody and a bass line that never share a pitch.
MELODY = [(72, 0.0, 1.0), (74, 1.0, 1.0), (76, 2.0, 0.5), (77, 2.5, 0.5), (79, 3.0, 1.0)]
BASS = [(36, 0.0, 2.0), (43, 2.0, 2.0)]

#: A drum pattern (kick 36, snare 38, hi-hat 42) for channel 10.
DRUMS = [(36, 0.0, 0.5), (42, 0.0, 0.5), (42, 0.5, 0.5), (38, 1.0, 0.5), (42, 1.0, 0.5), (36, 2.0, 0.5)]


@dataclass
class Track:
    """One MIDI track: its notes, channel and optional program and name."""

    notes: list[tuple[int, float, float]]
    channel: int = 0
    program: int | None = None
    name: str | None = None
    velocity: int = 90


def write_midi(path: Path | str, tracks: list[Track], tempo_bpm: float = 120.0) -> Path:
    """Write a type-1 MIDI file with mido: a tempo track, then one track per ``Track``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    meta.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(meta)
    for track in tracks:
        events = []  # (tick, order, message): note-offs before note-ons at the same tick
        for pitch, start, duration in track.notes:
            on = round(start * TICKS_PER_BEAT)
            off = round((start + duration) * TICKS_PER_BEAT)
            events.append((on, 1, mido.Message("note_on", note=pitch, velocity=track.velocity, channel=track.channel)))
            events.append((off, 0, mido.Message("note_off", note=pitch, velocity=0, channel=track.channel)))
        events.sort(key=lambda e: (e[0], e[1], e[2].note))
        messages = mido.MidiTrack()
        if track.name:
            messages.append(mido.MetaMessage("track_name", name=track.name, time=0))
        if track.program is not None:
            messages.append(mido.Message("program_change", program=track.program, channel=track.channel, time=0))
        now = 0
        for tick, _, message in events:
            messages.append(message.copy(time=tick - now))
            now = tick
        messages.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(messages)
    midi.save(str(path))
    return path


def count_pitched_note_ons(path: Path | str) -> int:
    """Independent count: note_on events with velocity > 0 outside the drum channel."""
    return sum(
        1
        for message in mido.MidiFile(str(path))
        if message.type == "note_on" and message.velocity > 0 and message.channel != DRUM_CHANNEL
    )


def count_drum_note_ons(path: Path | str) -> int:
    """Independent count: note_on events with velocity > 0 on the drum channel."""
    return sum(
        1
        for message in mido.MidiFile(str(path))
        if message.type == "note_on" and message.velocity > 0 and message.channel == DRUM_CHANNEL
    )


def program_changes(path: Path | str) -> list[int]:
    """Programs of every program_change event in a MIDI file."""
    return [message.program for message in mido.MidiFile(str(path)) if message.type == "program_change"]


@pytest.fixture
def midi_files(tmp_path) -> dict[str, Path]:
    """Small synthetic MIDI files in ``tmp_path/midi``: scale, chords, two_part, with_drums, drums_only."""
    folder = tmp_path / "midi"
    return {
        "scale": write_midi(folder / "scale.mid", [Track(C_MAJOR_SCALE, program=0, name="Piano")]),
        "chords": write_midi(folder / "chords.mid", [Track(CHORD_NOTES, program=0, name="Piano")]),
        "two_part": write_midi(
            folder / "two_part.mid",
            [Track(MELODY, channel=0, program=40, name="Violin"), Track(BASS, channel=1, program=42, name="Cello")],
        ),
        "with_drums": write_midi(
            folder / "with_drums.mid",
            [Track(C_MAJOR_SCALE[:4], channel=0, program=0), Track(DRUMS, channel=DRUM_CHANNEL)],
        ),
        "drums_only": write_midi(folder / "drums_only.mid", [Track(DRUMS, channel=DRUM_CHANNEL)]),
    }


def write_tune(path: Path | str, seed: int, n_notes: int = 40) -> Path:
    """A small pseudo-random single-line tune in C major (quarters and eighths), reproducible by seed."""
    import random

    rng = random.Random(seed)
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    notes, now = [], 0.0
    for _ in range(n_notes):
        length = rng.choice([0.5, 1.0])
        notes.append((rng.choice(pitches), now, length))
        now += length
    return write_midi(path, [Track(notes, program=0)])


@pytest.fixture
def tune_folder(tmp_path) -> Path:
    """A folder of four small tunes (about 40 events each): a tiny dataset to train on."""
    folder = tmp_path / "tunes"
    for i in range(4):
        write_tune(folder / f"tune_{i}.mid", seed=i)
    return folder


def redirect_outputs(monkeypatch: pytest.MonkeyPatch, outputs: Path) -> Path:
    """Point config.OUTPUTS_DIR, RUNS_DIR, GENERATED_DIR and FIGURES_DIR below ``outputs``."""
    from helpers import config

    monkeypatch.setattr(config, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(config, "RUNS_DIR", outputs / "runs")
    monkeypatch.setattr(config, "GENERATED_DIR", outputs / "generated")
    monkeypatch.setattr(config, "FIGURES_DIR", outputs / "figures")
    monkeypatch.delenv(config.MODE_VARIABLE, raising=False)
    return outputs


@pytest.fixture(autouse=True)
def outputs_in_tmp(tmp_path, monkeypatch) -> Path:
    """Autouse: every test writes below ``tmp_path/outputs``, never into the repository's ``outputs/``.

    Module-scoped fixtures, which run outside this one, use :func:`redirect_outputs` themselves.
    """
    return redirect_outputs(monkeypatch, tmp_path / "outputs")
