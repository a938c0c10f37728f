"""The MIDI-like event encoding: pitch, duration and time-shift tokens, so a model learns rhythm.

Explained in notebook 08. The chapter's tokens (and the ``voiced`` ones of
:mod:`helpers.tokens`) name *which* notes sound together, one token per chord voicing: the
vocabulary grows with the data (2,773 tokens for the 40 shipped pieces, most seen once or
twice) and the rhythm is not in the tokens at all — it has to be copied from a real piece.

Here a piece is written as a stream of small events, as a MIDI file is (the "MIDI-like"
encoding of Oore et al., 2018, *This time with feeling*):

``P60``
    a note of pitch 60 (MIDI number, 0..127) starts now;
``D12``
    the pitches named since the last ``D`` last 12 steps;
``T6``
    time moves on by 6 steps.

A step is 1/24 of a quarter note (:data:`STEPS_PER_QUARTER`): sixteenths, thirty-seconds and
triplets all fall on it. Shifts and durations go up to :data:`MAX_STEPS` (4 quarter notes);
a longer pause is written as several ``T`` tokens, a longer note is cut to 4 quarters.
The vocabulary is the same 320 tokens for any music (128 pitches, 96 durations, 96 shifts).

A C-major chord of quarter notes followed by an eighth-note G::

    P48 P52 P55 D24 T24 P55 D12

(a ``T`` is written only to reach the next onset, so a piece ends with its last note).

Notes that start together are written low to high; neighbours with the same duration share
one ``D``. What the round trip notes → tokens → notes keeps (tested): every pitch, onsets and
durations rounded to the nearest step, durations of at least one step and at most 4
quarters, one note per pitch and onset (the longer one). Velocities and instruments are not
encoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.constants import NOTE_COLUMNS, tidy_notes
from helpers.tokens import TokenError, Vocabulary

#: The encoding's name in run folders and on the command line (``--encoding midilike``).
ENCODING = "midilike"
#: Steps per quarter note: the time grid of shifts and durations.
STEPS_PER_QUARTER = 24
#: Longest shift and longest duration one token holds, in steps (4 quarter notes). Inclusive.
MAX_STEPS = 96
#: Velocity of decoded notes (MIDI 1..127); velocities are not encoded.
DEFAULT_VELOCITY = 80
#: Columns of the table returned by :func:`notes_to_events`.
EVENT_COLUMNS = ["piece", "offset", "token"]


def all_tokens() -> list[str]:
    """Every token of the encoding: ``P0..P127``, ``D1..D96``, ``T1..T96``."""
    return (
        [f"P{p}" for p in range(128)]
        + [f"D{s}" for s in range(1, MAX_STEPS + 1)]
        + [f"T{s}" for s in range(1, MAX_STEPS + 1)]
    )


def vocabulary() -> Vocabulary:
    """The fixed vocabulary of the encoding (320 tokens, whatever the data)."""
    return Vocabulary(all_tokens(), ENCODING)


def parse_token(token: str) -> tuple[str, int]:
    """``"P60"`` → ``("P", 60)``; raises :class:`~helpers.tokens.TokenError` for anything else."""
    kind, digits = token[:1], token[1:]
    if kind not in ("P", "D", "T") or not digits.isdigit():
        raise TokenError(f"{token!r} is not a MIDI-like token (P<pitch>, D<steps>, T<steps>)")
    value = int(digits)
    high = 127 if kind == "P" else MAX_STEPS
    low = 0 if kind == "P" else 1
    if not low <= value <= high:
        raise TokenError(f"{token!r}: the number must be {low}..{high}")
    return kind, value


def _steps(quarters: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(quarters, dtype=float) * STEPS_PER_QUARTER).astype(np.int64)


def notes_to_tokens(notes: pd.DataFrame) -> list[str]:
    """One piece's notes (``offset``, ``duration``, ``pitch``) → MIDI-like tokens.

    All rows are taken as one piece; time starts at offset 0, so a piece that begins with a
    rest begins with ``T`` tokens.
    """
    if notes.empty:
        return []
    onsets = _steps(notes["offset"].to_numpy())
    if onsets.min() < 0:
        raise TokenError("a note starts before offset 0")
    frame = pd.DataFrame({
        "onset": onsets,
        "pitch": notes["pitch"].to_numpy(dtype=np.int64),
        "length": np.clip(_steps(notes["duration"].to_numpy()), 1, MAX_STEPS),
    })
    # one note per pitch and onset: the longer one
    frame = frame.sort_values(["onset", "pitch", "length"]).drop_duplicates(["onset", "pitch"], keep="last")
    out: list[str] = []
    cursor = 0
    for onset, group in frame.groupby("onset", sort=True):
        gap = int(onset) - cursor
        while gap > 0:
            shift = min(gap, MAX_STEPS)
            out.append(f"T{shift}")
            gap -= shift
        cursor = int(onset)
        pitches, lengths = group["pitch"].to_numpy(), group["length"].to_numpy()
        for i, (pitch, length) in enumerate(zip(pitches, lengths)):
            out.append(f"P{pitch}")
            if i + 1 == len(pitches) or lengths[i + 1] != length:
                out.append(f"D{length}")
    return out


def notes_to_events(notes: pd.DataFrame) -> pd.DataFrame:
    """A notes table of any number of pieces → one row per token: ``piece``, ``offset``, ``token``.

    The counterpart of :func:`helpers.tokens.notes_to_events` for this encoding; ``offset``
    (quarter lengths) is the time at which the token stands. Pieces keep their order.
    """
    rows: list[tuple[str, float, str]] = []
    for piece, group in notes.groupby("piece", sort=False):
        time = 0
        for token in notes_to_tokens(group):
            rows.append((piece, time / STEPS_PER_QUARTER, token))
            if token[0] == "T":
                time += int(token[1:])
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def tokens_to_notes(tokens: Sequence[str], velocity: int = DEFAULT_VELOCITY, piece: str = "generated") -> pd.DataFrame:
    """MIDI-like tokens → a notes table (quarter lengths), reading any sequence a model may write.

    The rules, also for sequences that break the grammar: ``T`` moves time on; ``P`` names a
    pitch that starts now; ``D`` gives its duration to every pitch named since the last
    ``D``. A pitch still waiting for its ``D`` when time moves on (or at the end) gets the
    last duration seen (a quarter note before any); a ``D`` with no pitch waiting writes no
    note and moves no time, but its duration becomes the last one seen.
    """
    rows = []
    time = 0
    waiting: list[int] = []
    last_length = STEPS_PER_QUARTER

    def flush(length: int) -> None:
        for pitch in waiting:
            rows.append((piece, 0, "", time / STEPS_PER_QUARTER, length / STEPS_PER_QUARTER, pitch, int(velocity)))
        waiting.clear()

    for token in tokens:
        kind, value = parse_token(token)
        if kind == "P":
            waiting.append(value)
        elif kind == "D":
            flush(value)
            last_length = value
        else:
            flush(last_length)
            time += value
    flush(last_length)
    notes = pd.DataFrame(rows, columns=NOTE_COLUMNS)
    notes = notes.drop_duplicates(["offset", "pitch"], keep="last")  # a pitch named twice at one time
    return tidy_notes(notes)


def quantise(notes: pd.DataFrame) -> pd.DataFrame:
    """What :func:`tokens_to_notes` gives back for ``notes``: onsets and durations on the grid,
    durations 1..:data:`MAX_STEPS` steps, one note per pitch and onset (the longer)."""
    return tokens_to_notes(notes_to_tokens(notes))


def transposition_table(vocab: Vocabulary, semitones: int) -> np.ndarray:
    """Codes → codes of the same music ``semitones`` higher: pitch tokens move, others stay.

    A pitch that would leave 0..127 maps to ``-1``; the caller decides what to do with it.
    Used to augment the training data with transposed copies (notebook 08).
    """
    table = np.arange(len(vocab), dtype=np.int32)
    for code, token in enumerate(vocab.tokens):
        if token.startswith("P"):
            moved = int(token[1:]) + int(semitones)
            table[code] = vocab.encode([f"P{moved}"])[0] if 0 <= moved <= 127 else -1
    return table


def key_shift(notes: pd.DataFrame) -> int:
    """Semitones that move a piece to C major or A minor (its relative minor), from -5 to +6.

    The key is estimated by :func:`helpers.score.estimate_key` (music21's Krumhansl-Schmuckler
    key finder, weighted by duration) over the whole piece.
    """
    from helpers import score

    key = score.estimate_key(notes)
    tonic = key.tonic.pitchClass
    shift = -tonic if key.mode == "major" else 9 - tonic
    return (shift + 5) % 12 - 5


def normalise_keys(notes: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Transpose every piece of a notes table to C major or A minor (notebook 08).

    Tonal music is the same music in any key, but a model trained on 40 pieces in 15 keys
    has to learn each pitch relation in every key; in one key the data says it 12× as often.
    Notes moved outside 0..127 are dropped (none in practice).

    Returns:
        the transposed table, and the shift of each piece in semitones (add its negative to
        bring a piece back to its own key).
    """
    shifts = {str(piece): key_shift(group) for piece, group in notes.groupby("piece", sort=False)}
    moved = notes.assign(pitch=notes["pitch"] + notes["piece"].map(shifts).astype(notes["pitch"].dtype))
    return moved[moved["pitch"].between(0, 127)].reset_index(drop=True), shifts
