"""Notes → sheet music: the opening of a piece engraved as an SVG score, without MuseScore or LilyPond.

Explained in notebook 06 (the generated piece); notebook 02 engraves a training excerpt.

The chapter sends its readers to install MuseScore to look at the result. Here the route is
pip only and headless: notes table → music21 score → MusicXML → `verovio
<https://www.verovio.org>`_ (the engraver of the Music Encoding Initiative, a wheel with its
own fonts) → SVG, which a notebook shows and a browser opens, and a PNG of it rendered by
`resvg <https://pypi.org/project/resvg-py/>`_ (a Rust SVG renderer, one wheel per platform, no
system libraries) for JupyterLab, which withholds SVG in notebooks it does not trust (see
:mod:`helpers.display`). Without resvg-py the score is shown as SVG only and says why.

**Staves.** A piece of two to :data:`MAX_STAVES` parts (a chorale, a quartet, a piano piece
with one track per hand) gets one staff per part, the highest part on top, each in the clef
that suits its range. A piece of one part (every generated piece) or of more parts is written
as a **piano reduction on a grand staff**: notes from middle C up on the treble staff, lower
ones on the bass staff.

**Rhythm.** Onsets and ends are rounded to sixteenths or eighth-note triplets, whichever is
nearer, so that they can be written down. Notes of one staff that start together become one
chord, written up to the next onset on that staff (or to the end of its longest note, when
that comes first): a note held on under later notes is written as long as it leads, not tied
through every later onset. The score shows when each note starts and what sounds with it; the
MIDI file and the audio keep the held notes.

**Key and meter.** A notes table keeps neither: the excerpt is written in 4/4, with the key
signature of the key music21 finds in it (Krumhansl–Schmuckler), each black key spelled as the
key's scale spells it (harmonic minor in minor keys), else as a flat in flat keys and a sharp
in sharp keys. Times are in **quarter lengths**.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd

from helpers import config
from helpers.constants import PITCH_NAMES
from helpers.display import Notice, Sheet
from helpers.errors import MusicGenError

#: Length of the excerpt engraved by default, in quarter lengths (four bars of 4/4).
EXCERPT_QUARTERS = 16.0
#: Pieces with 2..MAX_STAVES parts get one staff per part; others a grand staff.
MAX_STAVES = 4
#: Notes of this MIDI pitch (middle C) and higher go to the treble staff, lower ones to the bass staff.
SPLIT_PITCH = 60
#: Grids that onsets and ends are rounded to: 4 = sixteenths, 3 = eighth-note triplets.
QUANTIZE_DIVISORS = (4, 3)
#: Shortest written length, in quarter lengths (a sixteenth); shorter notes are lengthened.
MIN_DURATION = 0.25
#: Spellings of the 12 pitch classes in keys with flats (music21 names; with sharps: constants.PITCH_NAMES).
_FLAT_NAMES = ["C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B"]
#: Width of the engraved page in verovio's units (tenths of a millimetre at scale 100) and the scale, in %.
PAGE_WIDTH = 2500
SCALE = 40
#: The PNG's pixels per SVG pixel: 1.0 draws the score at the size the SVG is shown (1000 px wide).
PNG_ZOOM = 1.0
#: The font of titles in the PNG: DejaVu Serif, which ships with matplotlib (same PNG on every machine).
PNG_FONT = ("matplotlib", "mpl-data/fonts/ttf/DejaVuSerif.ttf", "DejaVu Serif")


class ScoreError(MusicGenError, ValueError):
    """A score cannot be engraved: no notes, or the engraver is missing or fails."""


def excerpt(notes: pd.DataFrame, max_quarters: float | None = EXCERPT_QUARTERS) -> pd.DataFrame:
    """The notes starting before ``max_quarters``, cut off at ``max_quarters`` (``None``: all)."""
    if max_quarters is None:
        return notes
    shown = notes[notes["offset"] < max_quarters].copy()
    shown["duration"] = shown["duration"].clip(upper=max_quarters - shown["offset"])
    return shown


def estimate_key(notes: pd.DataFrame):
    """The key of some notes by music21's Krumhansl–Schmuckler key finder, weighted by duration.

    Returns:
        a ``music21.key.Key`` (``.sharps``: its number of sharps, negative for flats).
    """
    from music21 import note, pitch, stream

    melody = stream.Stream()
    for row in notes.itertuples(index=False):
        melody.append(note.Note(pitch.Pitch(midi=int(row.pitch)), quarterLength=max(float(row.duration), MIN_DURATION)))
    return melody.analyze("key")


def key_spellings(found) -> list[str]:
    """Names of the 12 pitch classes in a music21 key: the scale's own names (harmonic minor in
    minor keys, so the leading tone is F-sharp in G minor), the other black keys as flats in flat
    keys and as sharps in sharp keys (in C major / A minor: C#, E-flat, F#, G#, B-flat).
    """
    base = _FLAT_NAMES if found.sharps < 0 else PITCH_NAMES if found.sharps > 0 else [
        *PITCH_NAMES[:3], "E-", *PITCH_NAMES[4:10], "B-", "B"]
    names = list(base)
    from music21 import scale

    kind = scale.HarmonicMinorScale if found.mode == "minor" else scale.MajorScale
    for pitch in kind(found.tonic).getPitches()[:-1]:
        names[pitch.pitchClass] = pitch.name
    return names


def spell_pitch(pitch: int, names: list[str]) -> str:
    """A MIDI pitch written with one of 12 pitch-class ``names``, octave included: ``'B-4'`` for 70.

    The octave follows the written letter: B#3 is MIDI 60, C-flat 5 is MIDI 71.
    """
    from music21 import pitch as m21pitch

    written = m21pitch.Pitch(f"{names[pitch % 12]}4")
    written.octave += (pitch - written.midi) // 12
    if written.midi != pitch:
        raise ScoreError(f"cannot spell MIDI pitch {pitch} as {names[pitch % 12]}")
    return written.nameWithOctave


def _staves(shown: pd.DataFrame) -> list[tuple[str, pd.DataFrame, bool]]:
    """Split an excerpt into staves: ``(name, notes, treble clef?)``, top staff first."""
    parts = shown.groupby("part") if "part" in shown else []
    if 2 <= len(parts) <= MAX_STAVES:
        by_height = sorted(parts, key=lambda item: -item[1]["pitch"].mean())
        return [(f"part {part}", table, table["pitch"].median() >= SPLIT_PITCH) for part, table in by_height]
    high = shown["pitch"] >= SPLIT_PITCH
    return [(name, table, treble) for name, table, treble in
            (("treble", shown[high], True), ("bass", shown[~high], False)) if not table.empty]


def quantize(values, divisors: tuple[int, ...] = QUANTIZE_DIVISORS):
    """Round times (quarter lengths) to the nearest point of any grid ``1/d`` for ``d`` in ``divisors``.

    >>> quantize([0.98, 0.34, 1.26]).tolist()
    [1.0, 0.3333333333333333, 1.25]
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    candidates = np.stack([np.round(values * d) / d for d in divisors])
    return candidates[np.argmin(np.abs(candidates - values), axis=0), np.arange(values.size)]


def staff_chords(table: pd.DataFrame) -> list[tuple[float, float, list[int]]]:
    """The notes of one staff as ``(offset, duration, pitches)`` chords, in time order.

    Onsets and ends are quantized (:func:`quantize`); notes with the same onset form one chord,
    which lasts until the next onset or the end of its longest note, whichever comes first,
    and at least :data:`MIN_DURATION`.
    """
    onsets = quantize(table["offset"])
    ends = quantize(table["offset"].to_numpy(dtype=float) + table["duration"].to_numpy(dtype=float))
    groups = pd.DataFrame({"onset": onsets, "end": ends, "pitch": table["pitch"].to_numpy(dtype=int)}).groupby("onset")
    starts = sorted(groups.groups)
    chords = []
    for here, after in zip(starts, [*starts[1:], None]):
        group = groups.get_group(here)
        end = float(group["end"].max()) if after is None else min(float(group["end"].max()), after)
        shortest = MIN_DURATION if after is None else min(MIN_DURATION, after - here)  # never past the next onset
        chords.append((float(here), max(end - here, shortest), sorted(set(group["pitch"].tolist()))))
    return chords


def notes_to_notation(notes: pd.DataFrame, max_quarters: float | None = EXCERPT_QUARTERS, title: str = ""):
    """A notes table → a music21 score ready to be written down (see the module docstring).

    Args:
        notes: a notes table (``offset``, ``duration`` in quarter lengths, ``pitch``; ``part``
            when it has several parts).
        max_quarters: engrave only the opening, this many quarter lengths (``None``: all).
        title: written above the score.

    Returns:
        a ``music21.stream.Score``: one ``Part`` per staff holding notes and chords (see
        :func:`staff_chords`), with a clef, 4/4 and the key signature of the estimated key.

    Raises:
        ScoreError: no notes to engrave.
    """
    from music21 import chord, clef, key, layout, metadata, meter, note, stream

    shown = excerpt(notes, max_quarters)
    if shown.empty:
        where = f" in its first {max_quarters:g} quarter lengths" if max_quarters else ""
        raise ScoreError(f"the piece has no notes to engrave{where}")
    found = estimate_key(shown)
    names = key_spellings(found)
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or " ", composer=" ")  # music21 would write "Music21"
    staves = []
    for name, table, treble in _staves(shown):
        part = stream.Part(id=name)
        part.insert(0, clef.TrebleClef() if treble else clef.BassClef())
        part.insert(0, key.KeySignature(found.sharps))
        part.insert(0, meter.TimeSignature("4/4"))
        for offset, duration, pitches in staff_chords(table):
            spelled = [spell_pitch(pitch, names) for pitch in pitches]
            written = note.Note(spelled[0]) if len(spelled) == 1 else chord.Chord(spelled)
            written.quarterLength = duration
            part.insert(offset, written)
        staves.append(part)
    for staff in staves:
        score.insert(0, staff)
    if len(staves) > 1:
        symbol = "brace" if len(staves) == 2 else "bracket"
        score.insert(0, layout.StaffGroup(staves, symbol=symbol, barTogether=True))
    return score


def score_to_musicxml(score) -> str:
    """A music21 score → MusicXML text (measures, ties and beams made on the way)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    try:
        return GeneralObjectExporter(score).parse().decode("utf-8")
    except Exception as error:  # music21 raises MusicXMLExportException and others for durations it cannot write
        raise ScoreError(f"music21 cannot write this score as MusicXML ({error})") from error


def musicxml_to_svg(musicxml: str, page_width: int = PAGE_WIDTH, scale: int = SCALE) -> str:
    """Engrave MusicXML with verovio → one SVG page holding the whole excerpt.

    Raises:
        ScoreError: verovio is not installed, or it cannot read the MusicXML.
    """
    try:
        import verovio
    except ImportError as error:
        raise ScoreError("the engraver verovio is not installed: pip install -r requirements.txt") from error
    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions({
        "pageWidth": int(page_width), "scale": int(scale), "adjustPageHeight": True, "pageHeight": 60000,
        "breaks": "auto", "header": "auto", "footer": "none", "xmlIdSeed": 1,
    })
    if not toolkit.loadData(musicxml) or toolkit.getPageCount() < 1:
        raise ScoreError("verovio could not read the MusicXML")
    return toolkit.renderToSVG(1)


_NOTE = re.compile(r'<g\b[^>]*\bclass="note\b')


def svg_note_count(svg: str) -> int:
    """Noteheads in a verovio SVG: its ``<g class="note">`` elements (one per note, chords included)."""
    return len(_NOTE.findall(svg))


def notes_to_svg(notes: pd.DataFrame, max_quarters: float | None = EXCERPT_QUARTERS, title: str = "") -> str:
    """The opening of a piece as an SVG score: :func:`notes_to_notation` → MusicXML → verovio."""
    return musicxml_to_svg(score_to_musicxml(notes_to_notation(notes, max_quarters, title)))


_BETWEEN_TAGS = re.compile(r">\s+<")


def svg_to_png(svg: str, zoom: float = PNG_ZOOM) -> bytes:
    """Render a verovio SVG as a PNG on white with resvg (the glyphs are paths; titles use :data:`PNG_FONT`).

    Args:
        svg: an SVG document from :func:`musicxml_to_svg`.
        zoom: pixels of the PNG per pixel of the SVG's own size.

    Returns:
        the bytes of an RGBA PNG, ``round(zoom * width)`` by ``round(zoom * height)`` pixels.

    Raises:
        ScoreError: resvg-py is not installed, or it cannot read the SVG.
    """
    try:
        import resvg_py
    except ImportError as error:
        raise ScoreError("the SVG renderer resvg-py is not installed: pip install -r requirements.txt") from error
    package, relative, family = PNG_FONT
    spec = importlib.util.find_spec(package)  # found without importing matplotlib
    font = Path(list(spec.submodule_search_locations or [])[0]) / relative if spec else None
    fonts = {}
    if font and font.is_file():
        fonts = {"font_files": [str(font)], "font_family": family, "serif_family": family}
    # verovio indents its <text> elements; resvg lays that whitespace out (at font-size 0) and
    # shifts the title off the page, so the whitespace between tags goes.
    try:
        return bytes(resvg_py.svg_to_bytes(
            svg_string=_BETWEEN_TAGS.sub("><", svg), background="white", zoom=float(zoom),
            skip_system_fonts=bool(fonts), **fonts,
        ))
    except ValueError as error:
        raise ScoreError(f"resvg could not render the score ({error})") from error


def _pitch_words(name: str) -> str:
    """A music21 name with octave in words: ``'E-2'`` → ``'E-flat 2'``, ``'F#5'`` → ``'F-sharp 5'``."""
    letter, accidental, octave = name[0], name[1:-1], name[-1]
    words = {"": "", "-": "-flat", "--": "-double-flat", "#": "-sharp", "##": "-double-sharp"}
    spelled = words.get(accidental, accidental)
    return f"{letter}{spelled} {octave}" if spelled else f"{letter}{octave}"


def describe_notation(score, title: str = "", n_notes: int | None = None) -> str:
    """A score from :func:`notes_to_notation` in words, for readers who cannot see it (alt text).

    The C major scale from middle C up, in quarter notes, gives ``'Sheet music of scale.mid: 2
    bars of 4/4 on one staff (treble clef), key signature with no sharps or flats, 8 noteheads
    from C4 to C5.'``
    """
    from music21 import clef, key

    parts = list(score.parts)
    clefs = []
    for part in parts:
        first = next(iter(part.recurse().getElementsByClass(clef.Clef)), None)
        clefs.append("treble" if isinstance(first, clef.TrebleClef) else "bass")
    if len(parts) == 2 and [part.id for part in parts] == ["treble", "bass"]:
        staves = "a grand staff (treble and bass clef)"
    elif len(parts) == 1:
        staves = f"one staff ({clefs[0]} clef)"
    else:
        staves = f"{len(parts)} staves ({', '.join(clefs[:-1])} and {clefs[-1]} clef)"
    signature = next(iter(score.recurse().getElementsByClass(key.KeySignature)), None)
    sharps = signature.sharps if signature is not None else 0
    accidentals = "no sharps or flats" if sharps == 0 else (
        f"{abs(sharps)} {'sharp' if sharps > 0 else 'flat'}{'s' if abs(sharps) > 1 else ''}")
    pitches = [pitch for element in score.recurse().notes for pitch in element.pitches]
    bars = max(1, -(-int(round(float(score.highestTime) * 4)) // 16))  # whole 4/4 bars, rounded up
    counted = n_notes if n_notes is not None else len(pitches)
    heads = f"{counted} noteheads" if counted != 1 else "1 notehead"
    span = ""
    if pitches:
        low, high = min(pitches, key=lambda p: p.midi), max(pitches, key=lambda p: p.midi)
        span = f" from {_pitch_words(low.nameWithOctave)} to {_pitch_words(high.nameWithOctave)}"
    return (f"Sheet music of {title or 'the piece'}: {bars} bar{'s' if bars > 1 else ''} of 4/4 on {staves}, "
            f"key signature with {accidentals}, {heads}{span}.")


def notes_to_sheet(
    notes: pd.DataFrame,
    max_quarters: float | None = EXCERPT_QUARTERS,
    title: str = "",
    path: Path | str | None = None,
) -> Sheet | Notice:
    """The opening of a piece engraved for a notebook, and saved as ``path`` (an ``.svg``) when given.

    End a cell with it to show the score: SVG in a trusted notebook, PNG (:func:`svg_to_png`) in
    an untrusted one, and a description in words (:func:`describe_notation`) as its text. When
    it cannot be engraved (:class:`ScoreError`) the result is a one-line
    :class:`~helpers.display.Notice` saying why, and the notebook goes on. When only the PNG
    cannot be made (resvg-py missing) the sheet has the SVG alone and its text says why.
    """
    try:
        notation = notes_to_notation(notes, max_quarters, title)
        svg = musicxml_to_svg(score_to_musicxml(notation))
    except ScoreError as error:
        return Notice(f"no score for {title or 'the piece'}: {error}")
    if path is not None:
        path = Path(path)
        config.ensure_dir(path.parent)
        path.write_text(svg, encoding="utf-8")
    try:
        png, png_missing = svg_to_png(svg), ""
    except ScoreError as error:
        png, png_missing = None, f"no PNG: {error}; untrusted notebooks show no SVG"
    n_notes = svg_note_count(svg)
    return Sheet(svg=svg, title=title, n_notes=n_notes, description=describe_notation(notation, title, n_notes),
                 png=png, png_missing=png_missing)
