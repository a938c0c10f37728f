"""Tests of helpers.constants: the notes table schema (dtypes and row order)."""

from __future__ import annotations

from helpers import midi_io


def test_notes_table_dtypes_and_order(midi_files):
    notes, _ = midi_io.midi_to_notes(midi_files["two_part"])
    assert str(notes["pitch"].dtype) == "int16" and str(notes["offset"].dtype) == "float64"
    keys = list(zip(notes["offset"], notes["pitch"]))
    assert keys == sorted(keys)
    assert notes["pitch"].between(0, 127).all() and notes["velocity"].between(1, 127).all()
