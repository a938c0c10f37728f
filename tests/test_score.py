"""Tests of helpers.score: small notes tables engraved by verovio, counted in the MusicXML and the SVG."""

from __future__ import annotations

import base64
import io
import re
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import C_MAJOR_SCALE, CHORD_NOTES

from helpers import display, midi_io, score


def notes_table(rows, part=0):
    """(pitch, offset, duration) rows → a notes table, all in one part unless ``part`` varies by row."""
    parts = part if isinstance(part, list) else [part] * len(rows)
    frame = pd.DataFrame(
        [("p", k, "", float(o), float(d), int(p), 80) for (p, o, d), k in zip(rows, parts)], columns=midi_io.NOTE_COLUMNS
    )
    return midi_io.tidy_notes(frame)


def musicxml(notes, max_quarters=None):
    return score.score_to_musicxml(score.notes_to_notation(notes, max_quarters, "test"))


def test_scale_engraves_one_notehead_per_note():
    svg = score.notes_to_svg(notes_table(C_MAJOR_SCALE), max_quarters=None)
    assert svg.lstrip().startswith("<svg")
    assert score.svg_note_count(svg) == len(C_MAJOR_SCALE)
    assert svg.count('class="measure"') == 2  # 8 quarter notes: two bars of 4/4


def test_chords_engrave_every_pitch_on_a_grand_staff():
    notes = notes_table(CHORD_NOTES)
    xml = musicxml(notes)
    assert xml.count("<part id=") == 2  # one part split at middle C: treble and bass staves
    assert "<sign>G</sign>" in xml and "<sign>F</sign>" in xml
    assert xml.count("<note") == len(CHORD_NOTES) + xml.count("<rest")
    svg = score.musicxml_to_svg(xml)
    assert score.svg_note_count(svg) == len(CHORD_NOTES)
    # chords of two or more pitches per staff: 3 in the bass (C2-G3, F2-A3, G2-B3), 2 in the treble
    assert svg.count('class="chord"') == 5


def test_excerpt_keeps_the_opening_only():
    notes = notes_table(C_MAJOR_SCALE)
    assert score.svg_note_count(score.notes_to_svg(notes, max_quarters=4)) == 4
    held = score.excerpt(notes_table([(60, 0.0, 6.0), (62, 6.0, 1.0)]), 4)
    assert held["duration"].tolist() == [4.0]  # cut at the end of the excerpt


def test_a_note_across_the_bar_line_is_tied():
    svg = score.notes_to_svg(notes_table([(60, 0.0, 3.0), (62, 3.0, 2.0), (64, 5.0, 3.0)]), None)
    assert score.svg_note_count(svg) == 4  # the D is written twice, tied across the bar line
    assert svg.count('class="tie"') == 1


def test_triplets_and_sixteenths_are_written_as_such():
    rows = [(60, 0.0, 1 / 3), (62, 1 / 3, 1 / 3), (64, 2 / 3, 1 / 3), (65, 1.0, 0.25), (67, 1.25, 0.25),
            (69, 1.5, 0.5), (71, 2.0, 2.0)]
    svg = score.notes_to_svg(notes_table(rows), None)
    assert score.svg_note_count(svg) == len(rows)
    assert svg.count('class="tuplet"') == 1


def test_parts_get_their_own_staves_highest_on_top():
    soprano = [(72, 0.0, 2.0), (74, 2.0, 2.0)]
    bass = [(48, 0.0, 4.0)]
    alto = [(67, 0.0, 4.0)]
    notes = notes_table(bass + soprano + alto, part=[0, 1, 1, 2])
    xml = musicxml(notes)
    assert xml.count("<part id=") == 3
    parts = xml.split("<part id=")[1:]  # in score order, top staff first
    first = [(part.split("<step>")[1][0], part.split("<octave>")[1][0]) for part in parts]
    assert first == [("C", "5"), ("G", "4"), ("C", "3")]
    assert xml.count("<sign>F</sign>") == 1  # only the bass part in the bass clef
    assert score.svg_note_count(score.musicxml_to_svg(xml)) == 4


def test_key_signature_and_spelling_follow_the_key():
    f_major = [(p, float(i), 1.0) for i, p in enumerate([65, 67, 69, 70, 72, 74, 76, 77])]
    assert score.estimate_key(notes_table(f_major)).sharps == -1
    xml = musicxml(notes_table(f_major))
    assert "<fifths>-1</fifths>" in xml
    assert "<step>B</step>" in xml and "<alter>-1</alter>" in xml  # B-flat, not A-sharp

    from music21 import key

    g_minor = score.key_spellings(key.Key("g"))
    assert score.spell_pitch(66, g_minor) == "F#4"  # the leading tone of G minor is F-sharp
    assert score.spell_pitch(70, g_minor) == "B-4"
    assert score.spell_pitch(60, score.key_spellings(key.Key("c#"))) == "B#3"
    assert score.spell_pitch(59, score.key_spellings(key.Key("C-"))) == "C-4"
    assert [score.spell_pitch(p, score.key_spellings(key.Key("C"))) for p in (61, 63, 66, 68, 70)] == [
        "C#4", "E-4", "F#4", "G#4", "B-4"]


def test_notes_to_sheet_saves_and_shows_the_svg(tmp_path):
    path = tmp_path / "figures" / "scale.svg"
    sheet = score.notes_to_sheet(notes_table(C_MAJOR_SCALE), title="C major", path=path)
    assert isinstance(sheet, display.Sheet)
    assert path.read_text(encoding="utf-8") == sheet.svg == sheet._repr_mimebundle_()[0]["image/svg+xml"]
    assert sheet.n_notes == len(C_MAJOR_SCALE)
    assert "C major" in sheet.svg  # the title is engraved above the score
    assert "Music21" not in sheet.svg  # and no made-up composer


def test_nothing_to_engrave_gives_a_one_line_notice():
    with pytest.raises(score.ScoreError, match="no notes"):
        score.notes_to_notation(notes_table([]))
    late = notes_table([(60, 20.0, 1.0)])
    notice = score.notes_to_sheet(late, max_quarters=16, title="late.mid")
    assert isinstance(notice, display.Notice)
    assert "\n" not in repr(notice) and "late.mid" in repr(notice) and "first 16 quarter lengths" in repr(notice)


def test_missing_engraver_gives_a_notice(monkeypatch):
    monkeypatch.setitem(sys.modules, "verovio", None)
    notice = score.notes_to_sheet(notes_table(C_MAJOR_SCALE), title="scale")
    assert isinstance(notice, display.Notice) and "verovio is not installed" in repr(notice)


def test_unreadable_musicxml_is_a_score_error():
    with pytest.raises(score.ScoreError, match="verovio could not read"):
        score.musicxml_to_svg("not music at all")


def test_played_timing_is_rounded_to_the_grid():
    """A performance a little off the beat is written as plain quarter notes, not as ties and 64ths."""
    played = [(60, 0.0, 0.98), (62, 1.02, 0.97), (64, 1.99, 1.0), (65, 3.01, 0.96)]
    svg = score.notes_to_svg(notes_table(played), None)
    assert score.svg_note_count(svg) == 4
    assert 'class="tie"' not in svg and 'class="rest"' not in svg and 'class="tuplet"' not in svg


def test_a_held_note_is_written_until_the_next_onset():
    held = notes_table([(60, 0.0, 4.0), (64, 1.0, 1.0), (67, 1.0, 0.5), (72, 3.0, 0.25)])
    assert score.staff_chords(held) == [(0.0, 1.0, [60]), (1.0, 1.0, [64, 67]), (3.0, 0.25, [72])]
    svg = score.notes_to_svg(held, None)
    assert score.svg_note_count(svg) == 4 and 'class="tie"' not in svg


def test_quantize_picks_the_nearer_grid():
    assert score.quantize([0.98, 0.34, 1.26, 2.0 / 3 + 0.01, 0.0]).tolist() == pytest.approx([1.0, 1 / 3, 1.25, 2 / 3, 0.0])


# ----------------------------------------------------------------------------- the PNG beside the SVG


def png_pixels(png: bytes):
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()  # a truncated or corrupt PNG fails here
    return image.format, np.asarray(image.convert("L"))


def svg_size(svg: str) -> tuple[int, int]:
    width, height = re.search(r'<svg width="(\d+)px" height="(\d+)px"', svg).groups()
    return int(width), int(height)


def test_the_sheet_carries_a_png_of_the_svg_and_says_in_words_what_it_shows():
    sheet = score.notes_to_sheet(notes_table(CHORD_NOTES), title="chords.mid")
    fmt, gray = png_pixels(sheet.png)
    assert fmt == "PNG"
    width, height = svg_size(sheet.svg)
    assert gray.shape == (height, width) == sheet.png_size[::-1]  # PNG_ZOOM = 1: the size the SVG is shown at
    assert score.PNG_ZOOM == 1.0 and width <= 1200 and len(sheet.png) < 100 * 1024
    ink = gray < 128
    assert gray[0, 0] == 255  # drawn on white
    assert 0.01 < ink.mean() < 0.3  # staves, clefs and noteheads, not a blank or a black page
    assert ink[: height // 8].any(), "the title above the score is drawn (needs a font)"
    data, metadata = sheet._repr_mimebundle_()
    assert {"image/png", "image/svg+xml", "text/plain"} <= set(data)
    assert base64.b64decode(data["image/png"]) == sheet.png
    assert metadata["image/png"] == {"width": width, "height": height, "alt": sheet.description}
    assert data["text/plain"] == repr(sheet) == sheet.description == (
        "Sheet music of chords.mid: 3 bars of 4/4 on a grand staff (treble and bass clef), "
        f"key signature with no sharps or flats, {len(CHORD_NOTES)} noteheads from C2 to C6.")  # 9 quarters


def test_the_description_names_staves_key_and_range():
    f_major = notes_table([(p, float(i), 1.0) for i, p in enumerate([65, 67, 69, 70, 72, 74, 76, 77])])
    sheet = score.notes_to_sheet(f_major, title="f.mid")
    assert sheet.description == ("Sheet music of f.mid: 2 bars of 4/4 on one staff (treble clef), "
                                 "key signature with 1 flat, 8 noteheads from F4 to F5.")
    parts = notes_table([(72, 0.0, 2.0), (74, 2.0, 2.0), (48, 0.0, 4.0), (66, 0.0, 4.0)], part=[1, 1, 0, 2])
    described = score.notes_to_sheet(parts, title="trio").description
    assert "3 staves (treble, treble and bass clef)" in described and "from C3 to D5" in described


def test_without_the_svg_renderer_the_sheet_keeps_the_svg_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "resvg_py", None)
    with pytest.raises(score.ScoreError, match="resvg-py is not installed"):
        score.svg_to_png("<svg/>")
    sheet = score.notes_to_sheet(notes_table(C_MAJOR_SCALE), title="scale")
    assert isinstance(sheet, display.Sheet) and sheet.png is None and sheet.png_size == (0, 0)
    data, metadata = sheet._repr_mimebundle_()
    assert set(data) == {"text/plain", "image/svg+xml"} and metadata == {}
    assert "resvg-py is not installed" in data["text/plain"] and "untrusted notebooks show no SVG" in data["text/plain"]
    assert data["text/plain"].startswith("Sheet music of scale:") and "\n" not in data["text/plain"]


def test_an_svg_resvg_cannot_read_is_a_score_error():
    with pytest.raises(score.ScoreError, match="resvg could not render"):
        score.svg_to_png("not an svg")
