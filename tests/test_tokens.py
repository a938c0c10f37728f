"""Tests of helpers.tokens: note names, tokens, events and the vocabulary."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from conftest import CHORD_VOICINGS

from helpers import chapter, export, midi_io, tokens
from helpers.tokens import TokenError, Vocabulary


def make_notes(rows, piece="p.mid"):
    """A notes table from (offset, duration, pitch) rows."""
    frame = pd.DataFrame(
        [(piece, 0, "", float(o), float(d), int(p), 80) for o, d, p in rows], columns=midi_io.NOTE_COLUMNS
    )
    return midi_io.tidy_notes(frame)


# ----------------------------------------------------------------------------- names


def test_pitch_name_round_trip_for_every_midi_pitch():
    names = [tokens.pitch_to_name(p) for p in range(128)]
    assert [tokens.name_to_pitch(n) for n in names] == list(range(128))
    assert len(set(names)) == 128


@pytest.mark.parametrize(
    "pitch, name", [(0, "C-1"), (21, "A0"), (60, "C4"), (61, "C#4"), (69, "A4"), (127, "G9")]
)
def test_pitch_to_name_spells_sharps_and_octaves(pitch, name):
    assert tokens.pitch_to_name(pitch) == name


@pytest.mark.parametrize("name, pitch", [("Eb4", 63), ("Db4", 61), ("Bb3", 58), ("F##4", 67), ("c4", 60), (" E5 ", 76)])
def test_name_to_pitch_reads_flats_and_double_sharps(name, pitch):
    assert tokens.name_to_pitch(name) == pitch


@pytest.mark.parametrize("pitch", [-1, 128, 300])
def test_pitch_outside_midi_range_is_an_error(pitch):
    with pytest.raises(TokenError, match="0..127"):
        tokens.pitch_to_name(pitch)


@pytest.mark.parametrize("name", ["", "H4", "C", "C4x", "G#9", "Cb-1", "4C"])
def test_bad_note_names_are_token_errors(name):
    with pytest.raises(TokenError):
        tokens.name_to_pitch(name)


# ----------------------------------------------------------------------------- tokens


def test_voiced_tokens_keep_register_and_voicing():
    assert tokens.pitches_to_token([76, 36, 55]) == "C2.G3.E5"
    assert tokens.pitches_to_token([60]) == "C4"
    assert tokens.pitches_to_token([60, 60, 64]) == "C4.E4"  # unisons merged
    assert tokens.token_to_pitches("C2.G3.E5") == [36, 55, 76]


def test_chapter_tokens_keep_pitch_classes_only():
    assert tokens.pitches_to_token([76, 36, 55], "chapter") == "0.4.7"
    assert tokens.pitches_to_token([60], "chapter") == "C4"  # a single note keeps its octave
    assert tokens.token_to_pitches("0.4.7") == [60, 64, 67]  # C2-G3-E5 comes back in octave 4
    assert tokens.token_to_pitches("11.2.5") == [62, 65, 71]


def test_token_errors():
    with pytest.raises(TokenError):
        tokens.pitches_to_token([])
    with pytest.raises(ValueError, match="encoding"):
        tokens.pitches_to_token([60], "midi-like")
    with pytest.raises(TokenError, match="0..11"):
        tokens.token_to_pitches("0.12")
    with pytest.raises(TokenError):
        tokens.token_to_pitches("C4.X9")


# ----------------------------------------------------------------------------- events


def test_notes_to_events_groups_simultaneous_onsets():
    notes = make_notes([(0, 1, 60), (0, 2, 64), (0, 1, 67), (1, 0.5, 62), (1.5, 0.5, 64), (1.5, 1, 64)])
    events = tokens.notes_to_events(notes)
    assert list(events.columns) == tokens.EVENT_COLUMNS
    assert events["token"].tolist() == ["C4.E4.G4", "D4", "E4"]
    assert events["pitches"].tolist() == [(60, 64, 67), (62,), (64,)]
    assert events["offset"].tolist() == [0.0, 1.0, 1.5]
    assert events["step"].tolist() == [1.0, 0.5, 1.0]  # the last event: its own duration
    assert events["duration"].tolist() == [2.0, 0.5, 1.0]  # longest note of the event


def test_onsets_on_the_grid_are_grouped_and_triplets_kept_apart():
    # 1/100 quarter apart: one event; eighth-note triplets (1/3) apart: separate events.
    notes = make_notes([(0.0, 1, 60), (0.01, 1, 64), (1.0, 1 / 3, 62), (4 / 3, 1 / 3, 64), (5 / 3, 1 / 3, 65)])
    events = tokens.notes_to_events(notes)
    assert events["token"].tolist() == ["C4.E4", "D4", "E4", "F4"]
    assert np.allclose(events["step"], [1.0, 1 / 3, 1 / 3, 1 / 3])


def test_events_stay_within_their_piece():
    notes = pd.concat([make_notes([(0, 1, 60), (1, 1, 62)], "b.mid"), make_notes([(0, 1, 67), (0.5, 1, 69)], "a.mid")])
    events = tokens.notes_to_events(notes)
    assert events["piece"].tolist() == ["b.mid", "b.mid", "a.mid", "a.mid"]  # order of appearance kept
    assert events["step"].tolist() == [1.0, 1.0, 0.5, 1.0]  # no step runs from one piece into the next
    assert tokens.notes_to_tokens(notes) == ["C4", "D4", "G4", "A4"]


def test_empty_notes_give_empty_events():
    events = tokens.notes_to_events(make_notes([]))
    assert events.empty and list(events.columns) == tokens.EVENT_COLUMNS


def test_chapter_encoding_of_events():
    notes = make_notes([(0, 1, 36), (0, 1, 55), (0, 1, 76), (1, 1, 62)])
    assert tokens.notes_to_tokens(notes, "chapter") == ["0.4.7", "D4"]


# ----------------------------------------------------------------------------- round trips through MIDI


def tokens_through_midi(token_list, tmp_path, encoding="voiced"):
    """tokens → notes (one quarter apart) → MIDI file → notes → tokens."""
    offsets, durations = chapter.even_rhythm(len(token_list), 1.0)
    path = export.notes_to_midi(export.tokens_to_notes(token_list, offsets, durations), tmp_path / "rt.mid")
    notes, _ = midi_io.midi_to_notes(path)
    return tokens.notes_to_tokens(notes, encoding), notes


def test_voiced_tokens_survive_midi_unchanged(tmp_path):
    token_list = [tokens.pitches_to_token(chord) for chord in CHORD_VOICINGS] + ["C2.G3.E5", "A0", "C8", "F#3"]
    back, _ = tokens_through_midi(token_list, tmp_path)
    assert back == token_list


def test_random_voiced_chords_survive_midi_unchanged(tmp_path):
    rng = random.Random(3)
    token_list = [
        tokens.pitches_to_token(rng.sample(range(21, 109), rng.randint(1, 5))) for _ in range(40)
    ]
    back, _ = tokens_through_midi(token_list, tmp_path)
    assert back == token_list


def test_chapter_tokens_lose_the_octaves(tmp_path):
    token = tokens.pitches_to_token([36, 55, 76], "chapter")  # C2-G3-E5
    back, notes = tokens_through_midi([token], tmp_path, "chapter")
    assert sorted(notes["pitch"]) == [60, 64, 67]
    assert back == [token]  # the chapter's token is stable, but C2-G3-E5 became C4-E4-G4


# ----------------------------------------------------------------------------- vocabulary


def test_vocabulary_is_sorted_and_distinct():
    vocab = Vocabulary(["E4", "C4", "E4", "C2.G3.E5"])
    assert vocab.tokens == ["C2.G3.E5", "C4", "E4"]
    assert len(vocab) == 3 and "C4" in vocab and "D4" not in vocab
    assert "3 tokens" in repr(vocab)


def test_encode_decode_round_trip():
    vocab = Vocabulary(["E4", "C4", "G4"])
    codes = vocab.encode(["G4", "C4", "E4", "C4"])
    assert codes.dtype == np.int32
    assert codes.tolist() == [2, 0, 1, 0]
    assert vocab.decode(codes) == ["G4", "C4", "E4", "C4"]


def test_unknown_token_is_a_clear_error():
    vocab = Vocabulary(["C4", "E4"])
    with pytest.raises(TokenError) as caught:
        vocab.encode(["C4", "D4", "F4", "D4"])
    message = str(caught.value)
    assert "2 token(s) not in the model's vocabulary" in message
    assert "'D4'" in message and "'F4'" in message and "unknown='nearest'" in message


def test_unknown_nearest_maps_to_the_closest_known_token():
    vocab = Vocabulary(["C4", "E4", "C2.G3.E5", "A5"])
    codes = vocab.encode(["C#4", "C2.G3.F5", "B5", "E4"], unknown="nearest")
    assert vocab.decode(codes) == ["C4", "C2.G3.E5", "A5", "E4"]


def test_unknown_option_must_be_valid():
    with pytest.raises(ValueError, match="unknown="):
        Vocabulary(["C4"]).encode(["D4"], unknown="skip")


@pytest.mark.parametrize("code", [3, 100, -1])
def test_decode_out_of_range(code):
    with pytest.raises(TokenError, match="out of range"):
        Vocabulary(["C4", "E4", "G4"]).decode([0, code])


def test_counts_cover_the_whole_vocabulary():
    vocab = Vocabulary(["C4", "E4", "G4"])
    assert vocab.counts(["C4", "C4", "G4"]).tolist() == [2, 0, 1]


def test_vocabulary_save_load_round_trip(tmp_path):
    vocab = Vocabulary(["0.4.7", "C4", "5.9.0"], encoding="chapter")
    path = vocab.save(tmp_path / "run" / "vocab.json")
    assert json.loads(path.read_text()) == {"encoding": "chapter", "tokens": vocab.tokens}
    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens and loaded.encoding == "chapter"
    assert loaded.encode(["C4"]).tolist() == vocab.encode(["C4"]).tolist()


@pytest.mark.parametrize(
    "content",
    [
        '{"encoding": "voiced", "tokens": ["E4", "C4"]}',  # reordered: codes would change meaning
        '{"encoding": "voiced", "tokens": ["C4", "C4", "E4"]}',  # duplicated
        '{"encoding": "voiced"}',  # no tokens
        '["C4", "E4"]',  # not the saved layout
        "{not json",
        "",
    ],
)
def test_tampered_vocabulary_file_is_a_token_error(tmp_path, content):
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(TokenError, match="vocab.json"):
        Vocabulary.load(path)


def test_missing_vocabulary_file_is_a_token_error(tmp_path):
    with pytest.raises(TokenError):
        Vocabulary.load(tmp_path / "missing.json")
