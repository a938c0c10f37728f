"""Tokens back to notes with a rhythm, and notes to a MIDI file through music21.

Explained in notebook 06.

Rhythms (the model predicts *which* notes; these decide *when*):

``"even"``
    The chapter's: every event ``(last offset - first offset) / number of offsets`` after the
    previous one, each a quarter note long — the rhythm of the data is thrown away, and
    where the spacing is shorter than a quarter the notes overlap (:func:`helpers.chapter.even_rhythm`).
``"data"``
    The steps and durations of a real passage of the training data, event by event, so the
    piece keeps a real rhythm.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config
from helpers.constants import NOTE_COLUMNS, tidy_notes
from helpers.errors import MusicGenError
from helpers.tokens import token_to_pitches

RHYTHMS = ("even", "data")
#: Velocity of exported notes when none is given (MIDI 1..127).
DEFAULT_VELOCITY = 80


class ExportError(MusicGenError, ValueError):
    """Nothing sensible can be written (no notes, an unknown instrument, …)."""


def data_rhythm(events: pd.DataFrame, n_events: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and durations copied from ``events`` (see :func:`helpers.tokens.notes_to_events`).

    Takes ``n_events`` consecutive steps and durations from position ``start`` on, wrapping
    round to the beginning when the data runs out.
    """
    if events.empty:
        raise ExportError("no events to take a rhythm from")
    index = (start + np.arange(n_events)) % len(events)
    steps = events["step"].to_numpy(dtype=float)[index]
    durations = events["duration"].to_numpy(dtype=float)[index]
    offsets = np.concatenate([[0.0], np.cumsum(steps)[:-1]]) if n_events else np.zeros(0)
    return offsets, durations


def tokens_to_notes(
    tokens: Sequence[str],
    offsets: Sequence[float],
    durations: Sequence[float],
    velocity: int = DEFAULT_VELOCITY,
    piece: str = "generated",
) -> pd.DataFrame:
    """Tokens with their offsets and durations (quarter lengths) → a notes table.

    Every pitch of a chord token becomes one row. Both token encodings are understood.
    """
    if not len(tokens) == len(offsets) == len(durations):
        raise ExportError(f"{len(tokens)} tokens but {len(offsets)} offsets and {len(durations)} durations")
    rows = [
        (piece, 0, "", float(offset), float(duration), pitch, int(velocity))
        for token, offset, duration in zip(tokens, offsets, durations)
        for pitch in token_to_pitches(token)
    ]
    return tidy_notes(pd.DataFrame(rows, columns=NOTE_COLUMNS))


def make_instrument(instrument: str | int = "Piano"):
    """A music21 instrument that really carries a General MIDI program.

    Args:
        instrument: a name music21 knows (``"Piano"``, ``"Acoustic Guitar"``, ``"Violin"``)
            or a General MIDI program number 0..127.

    The chapter sets ``note.storedInstrument = instrument.Guitar()``, which music21 ignores
    when writing MIDI — its output plays as piano. An instrument *inserted into the part*
    is written as a program change.
    """
    from music21 import instrument as m21instrument

    if isinstance(instrument, str) and instrument.strip().isdigit():
        instrument = int(instrument)  # "24" from the command line is a program number
    try:
        if isinstance(instrument, (int, np.integer)):
            if not 0 <= int(instrument) <= 127:
                raise ExportError(f"MIDI program {instrument} is outside 0..127")
            made = m21instrument.instrumentFromMidiProgram(int(instrument))
            made.midiProgram = int(instrument)
        else:
            made = m21instrument.fromString(str(instrument))
    except m21instrument.InstrumentException as error:
        raise ExportError(f"unknown instrument {instrument!r}: give a name such as 'Piano' or a program 0..127") from error
    if made.midiProgram is None:
        made.midiProgram = 0
    return made


def notes_to_score(notes: pd.DataFrame, instrument: str | int = "Piano"):
    """A notes table → a one-part music21 score played by ``instrument``."""
    from music21 import note, pitch, stream

    if notes.empty:
        raise ExportError("the piece has no notes: nothing to write")
    part = stream.Part()
    part.insert(0, make_instrument(instrument))
    for row in notes.itertuples(index=False):
        # a Pitch by MIDI number: music21 reads a bare int below 12 as a pitch class in octave 4
        sound = note.Note(pitch.Pitch(midi=int(row.pitch)), quarterLength=float(row.duration))
        sound.volume.velocity = int(row.velocity)
        part.insert(float(row.offset), sound)
    score = stream.Score()
    score.insert(0, part)
    return score


def notes_to_midi(
    notes: pd.DataFrame, path: Path | str | None = None, instrument: str | int = "Piano", stem: str = "generated"
) -> Path:
    """Write a notes table as a MIDI file through music21.

    Args:
        notes: the notes (one part is written, with ``instrument``'s program change).
        path: where to write; by default a new ``outputs/generated/<stem>-NNN.mid`` that never
            overwrites an earlier piece.
        instrument: see :func:`make_instrument`.
        stem: file-name stem when ``path`` is not given.

    Returns:
        the path written, atomically: the file appears whole (a temporary file renamed) or not at all.
    """
    score = notes_to_score(notes, instrument)  # fails (no notes, unknown instrument) before any file is made
    target = Path(path) if path else config.unique_path(config.GENERATED_DIR, stem, ".mid")
    with config.atomic_path(target) as temporary:  # never half a file under the final name
        score.write("midi", fp=str(temporary))
    return target
