"""Tests of helpers.midilike: the MIDI-like encoding (P<pitch> D<steps> T<steps>), its round
trips, its grammar for broken sequences, its fixed vocabulary and its transposition tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import C_MAJOR_SCALE, CHORD_NOTES, Track, write_midi

from helpers import export, midi_io, midilike
from helpers.tokens import TokenError, Vocabulary

STEP = 1 / midilike.STEPS_PER_QUARTER  # one step in quarter lengths


def make_notes(rows, piece="p.mid"):
    """A notes table from (offset, duration, pitch) rows (quarter lengths)."""
    frame = pd.DataFrame(
        [(piece, 0, "", float(o), float(d), int(p), 80) for o, d, p in rows], columns=midi_io.NOTE_COLUMNS
    )
    return midi_io.tidy_notes(frame)


def triples(notes):
    """(offset in steps, duration in steps, pitch) of every note, sorted; exact integers."""
    offsets = np.asarray(notes["offset"], dtype=float) * midilike.STEPS_PER_QUARTER
    durations = np.asarray(notes["duration"], dtype=float) * midilike.STEPS_PER_QUARTER
    assert np.allclose(offsets, np.round(offsets), atol=1e-9), "offsets off the 1/24 grid"
    assert np.allclose(durations, np.round(durations), atol=1e-9), "durations off the 1/24 grid"
    return sorted(zip(np.round(offsets).astype(int), np.round(durations).astype(int), notes["pitch"].astype(int)))


def round_trip(notes):
    return midilike.tokens_to_notes(midilike.notes_to_tokens(notes))


# ----------------------------------------------------------------------------- the worked example


def test_docstring_example_chord_then_eighth_note():
    """A C-major chord of quarter notes, then an eighth-note G. The last T is not written:
    a time shift is only emitted to reach a later onset, so a piece ends on its last D."""
    notes = make_notes([(0, 1, 48), (0, 1, 52), (0, 1, 55), (1, 0.5, 55)])
    tokens = midilike.notes_to_tokens(notes)
    assert tokens == ["P48", "P52", "P55", "D24", "T24", "P55", "D12"]
    # the docstring's line, with its trailing T12, decodes to the same notes
    assert triples(midilike.tokens_to_notes(tokens)) == triples(
        midilike.tokens_to_notes("P48 P52 P55 D24 T24 P55 D12 T12".split())
    ) == [(0, 24, 48), (0, 24, 52), (0, 24, 55), (24, 12, 55)]


def test_chord_with_mixed_durations_shares_d_only_between_equal_neighbours():
    notes = make_notes([(0, 1, 48), (0, 0.5, 52), (0, 0.5, 55), (0, 1, 60)])
    assert midilike.notes_to_tokens(notes) == ["P48", "D24", "P52", "P55", "D12", "P60", "D24"]
    assert triples(round_trip(notes)) == triples(notes)


def test_empty_notes_give_no_tokens_and_no_tokens_give_no_notes():
    assert midilike.notes_to_tokens(make_notes([])) == []
    empty = midilike.tokens_to_notes([])
    assert empty.empty and list(empty.columns) == midi_io.NOTE_COLUMNS


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([(o, d, p) for p, o, d in C_MAJOR_SCALE], id="scale"),
        pytest.param([(o, d, p) for p, o, d in CHORD_NOTES], id="chords"),
        pytest.param([(2.5, 1, 60), (3.5, 0.25, 64), (3.75, 1 / 3, 67)], id="starts_with_a_rest"),
        pytest.param([(0, 2, 36), (0, 1, 60), (0, 0.5, 64), (0, 1 / 6, 67), (1, 3, 72)], id="mixed_chord"),
        pytest.param([(0, 1, 60), (9.5, 1, 62), (30, 4, 64)], id="long_gaps"),
        pytest.param([(0, 1 / 24, 0), (1 / 24, 4, 127), (1 / 3, 2 / 3, 61)], id="grid_edges"),
    ],
)
def test_round_trip_on_the_grid_is_exact(rows):
    notes = make_notes(rows)
    back = round_trip(notes)
    assert triples(back) == triples(notes)
    assert (back["velocity"] == midilike.DEFAULT_VELOCITY).all()


def test_piece_starting_with_a_rest_starts_with_time_shifts():
    tokens = midilike.notes_to_tokens(make_notes([(5, 1, 60)]))  # 5 quarters = 120 steps
    assert tokens == ["T96", "T24", "P60", "D24"]


def test_long_gap_is_written_as_several_time_shifts():
    tokens = midilike.notes_to_tokens(make_notes([(0, 1, 60), (9.5, 1, 62)]))  # 228 steps later
    assert tokens == ["P60", "D24", "T96", "T96", "T36", "P62", "D24"]
    assert all(midilike.parse_token(t)[1] <= midilike.MAX_STEPS for t in tokens)


def test_notes_longer_than_four_quarters_are_cut_to_four():
    notes = make_notes([(0, 6, 60), (0, 4, 64), (1, 100, 67)])
    tokens = midilike.notes_to_tokens(notes)
    assert tokens == ["P60", "P64", "D96", "T24", "P67", "D96"]
    assert triples(round_trip(notes)) == [(0, 96, 60), (0, 96, 64), (24, 96, 67)]


def test_zero_and_tiny_durations_become_one_step():
    notes = make_notes([(0, 0, 60), (1, 0.01, 62), (2, 1 / 24, 64)])
    assert triples(round_trip(notes)) == [(0, 1, 60), (24, 1, 62), (48, 1, 64)]


def test_unison_duplicates_keep_the_longer_note():
    notes = make_notes([(0, 0.5, 60), (0, 2, 60), (0, 1, 60), (0, 1, 64)])
    assert midilike.notes_to_tokens(notes) == ["P60", "D48", "P64", "D24"]
    assert triples(round_trip(notes)) == [(0, 24, 64), (0, 48, 60)]


def test_off_grid_onsets_and_durations_round_to_the_nearest_step():
    """0.26 quarters = 6.24 steps → 6; 1.03 → 24.72 → 25; duration 0.49 → 11.76 → 12."""
    notes = make_notes([(0.26, 0.49, 60), (1.03, 1.0, 62), (2.0 + 0.4 * STEP, 0.5 + 0.6 * STEP, 64)])
    assert triples(round_trip(notes)) == [(6, 12, 60), (25, 24, 62), (48, 13, 64)]


def test_round_trip_is_idempotent_and_equals_quantise():
    rng = np.random.default_rng(0)
    rows = [(rng.uniform(0, 20), rng.uniform(0, 6), rng.integers(30, 90)) for _ in range(60)]
    notes = make_notes(rows)
    once = midilike.quantise(notes)
    assert once.equals(round_trip(notes))
    assert midilike.quantise(once).equals(once)  # what the encoding keeps, it keeps exactly
    assert midilike.notes_to_tokens(once) == midilike.notes_to_tokens(notes)
    assert len(once) == len({(round(o * 24), p) for o, _, p in rows})  # one note per pitch and onset
    assert set(once["pitch"]) == {int(p) for _, _, p in rows}


def test_notes_before_offset_zero_are_refused():
    with pytest.raises(TokenError, match="before offset 0"):
        midilike.notes_to_tokens(make_notes([(-1, 1, 60), (0, 1, 62)]))


def test_tokens_to_midi_to_tokens_is_the_identity(tmp_path):
    """Through a real MIDI file written by export and read back by midi_io."""
    notes = make_notes([(0, 1, 48), (0, 1, 52), (0, 0.5, 55), (1.5, 1 / 3, 60), (23 / 12, 5, 62), (8, 0.25, 40)])
    tokens = midilike.notes_to_tokens(notes)
    path = export.notes_to_midi(midilike.tokens_to_notes(tokens), tmp_path / "x.mid")
    back, _ = midi_io.midi_to_notes(path)
    assert midilike.notes_to_tokens(back) == tokens


@pytest.mark.parametrize("pitches", [[0, 1, 11], [12, 64, 127]], ids=["lowest_octave", "higher"])
def test_every_pitch_token_survives_a_midi_file(tmp_path, pitches):
    """The vocabulary holds P0..P127 and a model may write any of them: a MIDI file written
    by export must hold the same MIDI numbers (checked with mido, independently of music21)."""
    import mido

    tokens = [f"P{p}" for p in pitches] + ["D24"]
    path = export.notes_to_midi(midilike.tokens_to_notes(tokens), tmp_path / "low.mid")
    written = sorted(m.note for m in mido.MidiFile(str(path)) if m.type == "note_on" and m.velocity > 0)
    assert written == pitches
    back, _ = midi_io.midi_to_notes(path)
    assert midilike.notes_to_tokens(back) == tokens


def test_midi_file_written_with_mido_round_trips(tmp_path):
    path = write_midi(tmp_path / "chords.mid", [Track(CHORD_NOTES, program=0)])
    notes, _ = midi_io.midi_to_notes(path)
    assert triples(round_trip(notes)) == sorted((round(o * 24), round(d * 24), p) for p, o, d in CHORD_NOTES)


# ----------------------------------------------------------------------------- events of several pieces


def test_notes_to_events_keeps_piece_order_and_token_offsets():
    second = make_notes([(0.5, 1, 62), (2, 0.5, 64)], piece="b.mid")
    first = make_notes([(0, 1, 60), (0, 1, 64), (1, 1, 67)], piece="a.mid")
    events = midilike.notes_to_events(pd.concat([second, first], ignore_index=True))
    assert list(events.columns) == midilike.EVENT_COLUMNS
    assert list(dict.fromkeys(events["piece"])) == ["b.mid", "a.mid"]  # not sorted by name
    b = events[events["piece"] == "b.mid"]
    assert b["token"].tolist() == ["T12", "P62", "D24", "T36", "P64", "D12"]
    assert b["offset"].tolist() == [0.0, 0.5, 0.5, 0.5, 2.0, 2.0]  # a T stands where it starts
    a = events[events["piece"] == "a.mid"]
    assert a["token"].tolist() == ["P60", "P64", "D24", "T24", "P67", "D24"]
    assert a["offset"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # each piece starts at 0
    for piece, group in events.groupby("piece"):
        assert group["token"].tolist() == midilike.notes_to_tokens(
            pd.concat([second, first])[lambda n: n["piece"] == piece]
        )


# ----------------------------------------------------------------------------- the grammar of broken sequences


def test_pitch_without_duration_gets_a_quarter_before_any_duration():
    assert triples(midilike.tokens_to_notes(["P60", "T12", "P62"])) == [(0, 24, 60), (12, 24, 62)]


def test_pitch_without_duration_gets_the_last_duration():
    notes = midilike.tokens_to_notes(["P60", "D6", "T12", "P62", "P64", "T12", "P65"])
    assert triples(notes) == [(0, 6, 60), (12, 6, 62), (12, 6, 64), (24, 6, 65)]


def test_duration_without_pitch_writes_no_note_and_moves_no_time():
    notes = midilike.tokens_to_notes(["D12", "P60", "D24", "D48", "T24", "D3", "P62", "D12"])
    assert triples(notes) == [(0, 24, 60), (24, 12, 62)]


def test_time_shifts_at_the_start_and_alone():
    assert triples(midilike.tokens_to_notes(["T96", "T4", "P60", "D1"])) == [(100, 1, 60)]
    assert midilike.tokens_to_notes(["T5", "D7", "T9"]).empty


def test_pitch_named_twice_at_one_time_gives_one_note():
    notes = midilike.tokens_to_notes(["P60", "D12", "P60", "D36"])
    assert triples(notes) == [(0, 36, 60)]


def test_tokens_to_notes_options():
    notes = midilike.tokens_to_notes(["P60", "D24"], velocity=100, piece="mine")
    assert notes["velocity"].tolist() == [100] and notes["piece"].tolist() == ["mine"]
    assert notes.dtypes["pitch"] == np.int16 and notes.dtypes["offset"] == np.float64


# ----------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("token, parsed", [("P0", ("P", 0)), ("P127", ("P", 127)), ("D1", ("D", 1)),
                                           ("D96", ("D", 96)), ("T96", ("T", 96)), ("T1", ("T", 1))])
def test_parse_token(token, parsed):
    assert midilike.parse_token(token) == parsed


@pytest.mark.parametrize("token", ["X1", "P128", "D0", "T97", "T0", "P", "", "p60", "P-1", "P6.5", "C4", "T 5"])
def test_parse_token_errors(token):
    with pytest.raises(TokenError):
        midilike.parse_token(token)


def test_tokens_to_notes_rejects_a_bad_token():
    with pytest.raises(TokenError, match="D0"):
        midilike.tokens_to_notes(["P60", "D0"])


# ----------------------------------------------------------------------------- vocabulary


def test_vocabulary_is_fixed_and_complete(tmp_path):
    vocab = midilike.vocabulary()
    assert len(vocab) == 320 == len(midilike.all_tokens())
    assert vocab.encoding == midilike.ENCODING == "midilike"
    assert set(vocab.tokens) == set(midilike.all_tokens())
    for token in vocab.tokens:
        midilike.parse_token(token)  # every token is readable
    # whatever the data: the tokens of any piece are in it
    tokens = midilike.notes_to_tokens(make_notes([(0, 7, 0), (30, 0.1, 127), (31, 1, 5)]))
    assert all(t in vocab for t in tokens)
    loaded = Vocabulary.load(vocab.save(tmp_path / "vocab.json"))
    assert loaded.tokens == vocab.tokens and loaded.encoding == "midilike"
    assert loaded.decode(loaded.encode(tokens)) == tokens


# ----------------------------------------------------------------------------- transposition tables


@pytest.mark.parametrize("semitones", [-5, -1, 0, 3, 6])
def test_transposition_table_moves_pitch_codes_only(semitones):
    vocab = midilike.vocabulary()
    table = midilike.transposition_table(vocab, semitones)
    assert table.shape == (320,) and table.dtype == np.int32
    for code, token in enumerate(vocab.tokens):
        kind, value = midilike.parse_token(token)
        if kind != "P":
            assert table[code] == code, token
        elif 0 <= value + semitones <= 127:
            assert vocab.tokens[table[code]] == f"P{value + semitones}", token
        else:
            assert table[code] == -1, token
    assert (table == -1).sum() == abs(semitones)


@pytest.mark.parametrize("semitones", [1, 5, 12])
def test_transposition_there_and_back_is_the_identity_in_range(semitones):
    vocab = midilike.vocabulary()
    up, down = midilike.transposition_table(vocab, semitones), midilike.transposition_table(vocab, -semitones)
    for there, back in [(up, down), (down, up)]:
        inside = np.flatnonzero(there >= 0)
        assert len(inside) == 320 - semitones
        assert np.array_equal(back[there[inside]], inside)


def test_transposed_codes_decode_to_transposed_notes():
    vocab = midilike.vocabulary()
    notes = make_notes([(0, 1, 60), (0, 0.5, 64), (1, 1, 67)])
    codes = vocab.encode(midilike.notes_to_tokens(notes))
    moved = midilike.transposition_table(vocab, 2)[codes]
    back = midilike.tokens_to_notes(vocab.decode(moved))
    assert triples(back) == [(o, d, p + 2) for o, d, p in triples(notes)]


def _scale_piece(tonic: int, minor: bool = False) -> pd.DataFrame:
    """Scale, then tonic triad held: a piece whose key no key finder can miss."""
    steps = [0, 2, 3, 5, 7, 8, 10, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    third = 3 if minor else 4
    pitches = [tonic + s for s in steps] + [tonic, tonic + third, tonic + 7]
    offsets = list(range(8)) + [8, 8, 8]
    return pd.DataFrame({"piece": "p", "offset": offsets, "duration": [1] * 8 + [4] * 3, "pitch": pitches})


@pytest.mark.parametrize("tonic, minor, shift", [(62, False, -2), (67, False, 5), (60, False, 0), (69, True, 0),
                                                 (64, True, 5), (66, False, 6)])
def test_key_shift_moves_to_c_major_or_a_minor(tonic, minor, shift):
    assert midilike.key_shift(_scale_piece(tonic, minor)) == shift


def test_normalise_keys_moves_each_piece_by_its_own_shift():
    notes = pd.concat([_scale_piece(62).assign(piece="d"), _scale_piece(64, minor=True).assign(piece="e")])
    moved, shifts = midilike.normalise_keys(notes)
    assert shifts == {"d": -2, "e": 5}
    assert moved[moved["piece"] == "d"]["pitch"].tolist() == (notes[notes["piece"] == "d"]["pitch"] - 2).tolist()
    assert moved[moved["piece"] == "e"]["pitch"].min() == 69  # E minor up a fourth: A minor
