"""What every step shares: the notes table's schema, the drum channel, the names of pitches.

Explained in notebook 01. Nothing here imports more than the standard library, so that any
module (the MIDI reader in its worker processes included) may import it.

The **notes table** has one row per sounding note, with times in **quarter lengths**
(music21's unit) measured from the start of the piece:

=========== ======= ==========================================================
column      dtype   meaning
=========== ======= ==========================================================
piece       str     file name relative to the folder that was loaded
part        int16   index of the part (MIDI track and channel) the note came from
instrument  str     that part's instrument name ("" when the file names none)
offset      float64 onset, quarter lengths from the start of the piece
duration    float64 length in quarter lengths (0 for a note released where it starts)
pitch       int16   MIDI note number, 0..127 inclusive
velocity    int16   MIDI velocity, 1..127 inclusive
=========== ======= ==========================================================

Rows are ordered by onset, then pitch, then part (:func:`tidy_notes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is not imported here: reader processes start without it
    import pandas as pd

#: Columns of the notes table, in order.
NOTE_COLUMNS = ["piece", "part", "instrument", "offset", "duration", "pitch", "velocity"]
#: dtypes of the notes table's numeric columns.
NOTE_DTYPES = {"part": "int16", "offset": "float64", "duration": "float64", "pitch": "int16", "velocity": "int16"}
#: MIDI channel of drums, **counted from 0** as the channel nibble of the MIDI bytes, ``mido``,
#: ``pretty_midi`` and the synthesizer count it: channel 10 of the General MIDI standard.
DRUM_CHANNEL = 9
#: Names of the 12 pitch classes from C, with sharps, as music21 spells them.
PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
#: File endings taken as MIDI, compared in lower case.
MIDI_SUFFIXES = (".mid", ".midi")


def tidy_notes(notes: pd.DataFrame) -> pd.DataFrame:
    """Give a notes table its dtypes (:data:`NOTE_DTYPES`) and its order (by onset, then pitch, then part)."""
    notes = notes.astype(NOTE_DTYPES)
    return notes.sort_values(["offset", "pitch", "part"], kind="stable").reset_index(drop=True)
