"""Turn a notes table into tokens, and tokens into integers with a saved vocabulary.

Explained in notebook 03. Two encodings:

``"voiced"`` (the default)
    Notes that start together form one event. One pitch gives a note token named as music21
    spells it with sharps and octave (``"C4"``, ``"F#3"``); several give a chord token of
    those names from low to high joined by ``"."`` (``"C2.G3.E5"``). Register and voicing
    are kept, so tokens → MIDI → tokens is the identity.
``"chapter"``
    The textbook's encoding: a note is ``str(pitch)``, a chord is its ``normalOrder`` —
    pitch classes only (``"0.4.7"``), so ``C2-G3-E5`` comes back as ``C4-E4-G4``. Kept so
    notebook 03 can show what it loses.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.constants import PITCH_NAMES
from helpers.errors import MusicGenError

ENCODINGS = ("voiced", "chapter")
#: Notes whose onsets round to the same multiple of 1/12 quarter length (a grid holding
#: both sixteenths and eighth-note triplets) form one event.
ONSET_GRID = 12
#: Columns of the events table returned by :func:`notes_to_events`.
EVENT_COLUMNS = ["piece", "offset", "step", "duration", "pitches", "token"]

_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class TokenError(MusicGenError, ValueError):
    """A token that cannot be read, or that a vocabulary does not hold."""


def pitch_to_name(pitch: int) -> str:
    """MIDI number → note name with octave, sharps only: ``pitch_to_name(61) == "C#4"``."""
    if not 0 <= int(pitch) <= 127:
        raise TokenError(f"pitch {pitch} is outside the MIDI range 0..127")
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def name_to_pitch(name: str) -> int:
    """Note name with octave → MIDI number; ``#`` is sharp, ``b`` flat, octaves from -1.

    >>> name_to_pitch("Eb4"), name_to_pitch("C-1")
    (63, 0)
    """
    text = name.strip()
    if not text or text[0].upper() not in _STEPS:
        raise TokenError(f"{name!r} is not a note name like 'C4' or 'F#3'")
    pitch, rest = _STEPS[text[0].upper()], text[1:]
    while rest[:1] in ("#", "b"):
        pitch += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    try:
        octave = int(rest)
    except ValueError:
        raise TokenError(f"{name!r} is not a note name like 'C4' or 'F#3'") from None
    midi = pitch + 12 * (octave + 1)
    if not 0 <= midi <= 127:
        raise TokenError(f"{name!r} is outside the MIDI range 0..127")
    return midi


def pitches_to_token(pitches: Iterable[int], encoding: str = "voiced") -> str:
    """Pitches sounding together → one token.

    >>> pitches_to_token([76, 36, 55])
    'C2.G3.E5'
    >>> pitches_to_token([76, 36, 55], "chapter")
    '0.4.7'
    """
    unique = sorted(set(int(p) for p in pitches))
    if not unique:
        raise TokenError("an event needs at least one pitch")
    if encoding == "voiced":
        return ".".join(pitch_to_name(p) for p in unique)
    if encoding == "chapter":
        if len(unique) == 1:
            return pitch_to_name(unique[0])
        from music21 import chord

        return ".".join(str(n) for n in chord.Chord(unique).normalOrder)
    raise ValueError(f"encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}")


def token_to_pitches(token: str) -> list[int]:
    """One token → its MIDI pitches, low to high.

    Voiced tokens give back exactly their pitches. The chapter's chord tokens hold pitch
    classes only, read as in octave 4 (as the chapter's ``note.Note(int(...))`` does).
    """
    parts = token.split(".")
    if all(part.isdigit() for part in parts):  # the chapter's normalOrder chord ("0.4.7", "5")
        classes = [int(part) for part in parts]
        if any(c > 11 for c in classes):
            raise TokenError(f"{token!r}: pitch classes must be 0..11")
        return sorted(60 + c for c in classes)
    return sorted(name_to_pitch(part) for part in parts)


def notes_to_events(notes: pd.DataFrame, encoding: str = "voiced") -> pd.DataFrame:
    """Group a notes table into events (notes that start together) with one token each.

    Args:
        notes: a notes table (see :mod:`helpers.constants`), any number of pieces.
        encoding: ``"voiced"`` or ``"chapter"`` (see the module docstring).

    Returns:
        One row per event, pieces kept in their order and events by onset, with columns
        ``piece``, ``offset`` (quarter lengths), ``step`` (quarter lengths to the next event of
        the same piece; the last event's own duration), ``duration`` (longest note of the
        event), ``pitches`` (tuple, low to high, unisons merged) and ``token``.
    """
    if notes.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    frame = notes[["piece", "offset", "duration", "pitch"]].copy()
    frame["slot"] = np.round(frame["offset"].to_numpy() * ONSET_GRID).astype(np.int64)
    order = {piece: i for i, piece in enumerate(pd.unique(frame["piece"]))}
    frame["piece_order"] = frame["piece"].map(order)
    grouped = frame.groupby(["piece_order", "slot"], sort=True)
    events = grouped.agg(
        piece=("piece", "first"),
        offset=("offset", "min"),
        duration=("duration", "max"),
        pitches=("pitch", lambda s: tuple(sorted(set(int(p) for p in s)))),
    ).reset_index(drop=False)
    next_offset = events.groupby("piece_order")["offset"].shift(-1)
    events["step"] = (next_offset - events["offset"]).fillna(events["duration"])
    events["token"] = [pitches_to_token(p, encoding) for p in events["pitches"]]
    return events[EVENT_COLUMNS]


def notes_to_tokens(notes: pd.DataFrame, encoding: str = "voiced") -> list[str]:
    """The tokens of a notes table, piece after piece: ``notes_to_events(...)["token"]``."""
    return notes_to_events(notes, encoding)["token"].tolist()


class Vocabulary:
    """The sorted list of distinct tokens and their integer codes; saved as JSON beside a model.

    The chapter calls the list ``pitchcategory`` and the mapping ``note_encoding``.

    >>> vocab = Vocabulary(["E4", "C4", "E4"])
    >>> vocab.encode(["C4", "E4"]).tolist()
    [0, 1]
    """

    def __init__(self, tokens: Iterable[str], encoding: str = "voiced"):
        self.tokens: list[str] = sorted(set(tokens))
        self.encoding = encoding
        self._index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, encoding={self.encoding!r})"

    def encode(self, tokens: Sequence[str], unknown: str = "error") -> np.ndarray:
        """Tokens → int32 codes.

        Args:
            tokens: the tokens.
            unknown: ``"error"`` raises :class:`TokenError` naming the unknown tokens;
                ``"nearest"`` maps each unknown token to the known token whose pitches are
                closest (smallest summed semitone distance, a chord matched on its lowest and
                highest notes) — the documented mapping for primers from other music.
        """
        missing = [t for t in dict.fromkeys(tokens) if t not in self._index]
        if missing and unknown == "error":
            shown = ", ".join(repr(t) for t in missing[:5])
            raise TokenError(
                f"{len(missing)} token(s) not in the model's vocabulary: {shown}"
                f"{' …' if len(missing) > 5 else ''}. Use unknown='nearest' to map them to the "
                "closest known token, or train on music that contains them."
            )
        if missing and unknown != "nearest":
            raise ValueError(f"unknown={unknown!r}: expected 'error' or 'nearest'")
        mapping = {t: self._nearest(t) for t in missing}
        return np.array([self._index[mapping.get(t, t)] for t in tokens], dtype=np.int32)

    def _nearest(self, token: str) -> str:
        target = token_to_pitches(token)
        target_edges = np.array([target[0], target[-1], len(target)])

        def distance(known: str) -> float:
            pitches = token_to_pitches(known)
            return float(np.abs(np.array([pitches[0], pitches[-1], len(pitches)]) - target_edges).sum())

        return min(self.tokens, key=distance)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Integer codes → tokens."""
        codes = [int(i) for i in ids]
        if any(not 0 <= code < len(self) for code in codes):  # -1 must not read from the end
            raise TokenError(f"code out of range: the vocabulary has {len(self)} tokens")
        return [self.tokens[code] for code in codes]

    def counts(self, tokens: Iterable[str]) -> pd.Series:
        """How often each vocabulary token occurs in ``tokens`` (0 for absent ones)."""
        counter = Counter(tokens)
        return pd.Series([counter[t] for t in self.tokens], index=self.tokens, name="count")

    def save(self, path: Path | str) -> Path:
        """Write the vocabulary as JSON (``{"encoding": ..., "tokens": [...]}``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"encoding": self.encoding, "tokens": self.tokens}, indent=1))
        return path

    @classmethod
    def load(cls, path: Path | str) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text())
            vocab = cls(payload["tokens"], payload.get("encoding", "voiced"))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TokenError(f"{path}: not a vocabulary file ({error})") from error
        if vocab.tokens != payload["tokens"]:
            raise TokenError(f"{path}: tokens are not sorted and distinct; the file was edited")
        return vocab
