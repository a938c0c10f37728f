"""Tests of helpers.export: rhythms, tokens to notes, instruments and writing MIDI."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pandas as pd
import pytest
from conftest import BASS, C_MAJOR_SCALE, CHORD_NOTES, MELODY, count_pitched_note_ons, program_changes

from helpers import config, export, midi_io


def notes_table(rows, velocity=80):
    """A notes table from (pitch, offset, duration) rows, as the conftest fixtures list them."""
    frame = pd.DataFrame(
        [("p", 0, "", float(o), float(d), int(p), velocity) for p, o, d in rows], columns=midi_io.NOTE_COLUMNS
    )
    return midi_io.tidy_notes(frame)


# ----------------------------------------------------------------------------- notes → MIDI → notes


@pytest.mark.parametrize(
    "rows",
    [
        C_MAJOR_SCALE,
        CHORD_NOTES,
        MELODY + BASS,
        [(60, 0.0, 1 / 3), (62, 1 / 3, 1 / 3), (64, 2 / 3, 1 / 3), (65, 1.0, 0.25), (67, 1.25, 2.75), (21, 4.0, 0.5)],
    ],
    ids=["scale", "chords", "two_lines", "triplets_and_sixteenths"],
)
def test_notes_survive_midi(tmp_path, rows):
    notes = notes_table(rows)
    path = export.notes_to_midi(notes, tmp_path / "out.mid")
    back, info = midi_io.midi_to_notes(path)
    assert len(back) == len(notes) == count_pitched_note_ons(path)
    assert back["pitch"].tolist() == notes["pitch"].tolist()
    assert np.allclose(back["offset"], notes["offset"], atol=1e-6)
    assert np.allclose(back["duration"], notes["duration"], atol=1e-6)
    assert (back["velocity"] == 80).all()


def test_velocity_is_written(tmp_path):
    path = export.notes_to_midi(notes_table(C_MAJOR_SCALE[:2], velocity=101), tmp_path / "v.mid")
    velocities = {m.velocity for m in mido.MidiFile(str(path)) if m.type == "note_on" and m.velocity > 0}
    assert velocities == {101}


# ----------------------------------------------------------------------------- instruments


@pytest.mark.parametrize(
    "instrument, program", [("Piano", 0), ("Acoustic Guitar", 24), ("Violin", 40), (24, 24), (73, 73), (0, 0)]
)
def test_instrument_is_written_as_a_program_change(tmp_path, instrument, program):
    path = export.notes_to_midi(notes_table(C_MAJOR_SCALE), tmp_path / "i.mid", instrument=instrument)
    programs = program_changes(path)
    assert programs and set(programs) == {program}


def test_make_instrument_carries_a_program():
    assert export.make_instrument("Violin").midiProgram == 40
    assert export.make_instrument(np.int64(40)).midiProgram == 40
    assert export.make_instrument("24").midiProgram == 24  # as the command line passes it


@pytest.mark.parametrize("bad", ["Kazoo-o-phone", 128, -1, "200"])
def test_bad_instrument_is_an_export_error(bad):
    with pytest.raises(export.ExportError):
        export.make_instrument(bad)


def test_empty_notes_are_an_export_error(tmp_path):
    with pytest.raises(export.ExportError, match="no notes"):
        export.notes_to_midi(notes_table([]), tmp_path / "empty.mid")
    assert not (tmp_path / "empty.mid").exists()


def test_notes_to_midi_never_overwrites_without_a_path():
    notes = notes_table(C_MAJOR_SCALE)
    first = export.notes_to_midi(notes, stem="gru-sample")
    second = export.notes_to_midi(notes, stem="gru-sample")
    assert first != second
    assert (first.name, second.name) == ("gru-sample-001.mid", "gru-sample-002.mid")
    assert first.parent == config.GENERATED_DIR
    assert count_pitched_note_ons(first) == count_pitched_note_ons(second) == len(notes)


def test_notes_to_midi_writes_whole_files_or_none(tmp_path, monkeypatch):
    """Written under a temporary name and renamed: a writer that fails half-way leaves nothing,
    and an earlier file of that name stays whole."""
    from music21 import stream

    target = tmp_path / "piece.mid"
    target.write_bytes(b"earlier piece")

    def half_a_file(self, fmt, fp):
        Path(fp).write_bytes(b"MThd\x00")  # half a file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stream.Score, "write", half_a_file)
    with pytest.raises(OSError, match="No space left"):
        export.notes_to_midi(notes_table(C_MAJOR_SCALE), target)
    assert [p.name for p in tmp_path.iterdir()] == ["piece.mid"] and target.read_bytes() == b"earlier piece"
    with pytest.raises(export.ExportError, match="unknown instrument"):  # fails before any name is claimed
        export.notes_to_midi(notes_table(C_MAJOR_SCALE), instrument="Kazoo-o-phone")
    assert not config.GENERATED_DIR.exists() or not list(config.GENERATED_DIR.iterdir())


def test_notes_to_midi_creates_the_folder(tmp_path):
    path = export.notes_to_midi(notes_table(C_MAJOR_SCALE), tmp_path / "new" / "folder" / "x.mid")
    assert path.is_file() and mido.MidiFile(str(path)).length > 0


# ----------------------------------------------------------------------------- rhythms


def test_data_rhythm_copies_steps_and_wraps():
    events = pd.DataFrame({"step": [1.0, 0.5, 2.0], "duration": [1.0, 0.25, 1.5]})
    offsets, durations = export.data_rhythm(events, 5, start=1)
    # steps taken: 0.5, 2.0, 1.0 (wrapped), 0.5, 2.0
    assert offsets.tolist() == [0.0, 0.5, 2.5, 3.5, 4.0]
    assert durations.tolist() == [0.25, 1.5, 1.0, 0.25, 1.5]
    assert export.data_rhythm(events, 0)[0].shape == (0,)
    with pytest.raises(export.ExportError):
        export.data_rhythm(events.iloc[:0], 3)


# ----------------------------------------------------------------------------- tokens → notes


def test_tokens_to_notes_spreads_chords():
    notes = export.tokens_to_notes(["C2.G3.E5", "D4", "0.4.7"], [0.0, 1.0, 2.0], [1.0, 0.5, 2.0], velocity=70)
    assert notes["pitch"].tolist() == [36, 55, 76, 62, 60, 64, 67]
    assert notes["offset"].tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0]
    assert notes["duration"].tolist() == [1.0, 1.0, 1.0, 0.5, 2.0, 2.0, 2.0]
    assert (notes["velocity"] == 70).all() and list(notes.columns) == midi_io.NOTE_COLUMNS


def test_tokens_to_notes_needs_one_time_per_token():
    with pytest.raises(export.ExportError, match="2 tokens"):
        export.tokens_to_notes(["C4", "D4"], [0.0], [1.0])
