"""Tests of helpers.chapter: the chapter's code behaves as the chapter's does, its compact forms
agree with the printed ones, and importing it loads neither TensorFlow nor music21."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import count_pitched_note_ons

from helpers import chapter, config
from helpers.errors import DataError

# ----------------------------------------------------------------------------- step 3: reading


def test_extract_file_keeps_the_first_part_only(midi_files):
    found = chapter.extract_file(midi_files["two_part"])
    assert found.instrument == "Violin"  # the cello's notes are lost
    assert 0 < found.kept < count_pitched_note_ons(midi_files["two_part"])
    assert all(isinstance(token, str) for token in found.musical_note)
    assert len(found.offset) >= len(found.musical_note)  # every element's offset, not only the notes'


def test_extract_file_tokens_chords_by_normal_order(midi_files):
    found = chapter.extract_file(midi_files["chords"])
    assert any("." in token and token.replace(".", "").isdigit() for token in found.musical_note)
    assert found.kept == count_pitched_note_ons(midi_files["chords"])  # a chord token counts its notes


def test_extract_file_as_printed_fails_where_the_chapter_does(midi_files, monkeypatch):
    """The chapter reads ``parts.parts[0]`` before it checks ``parts``: a file without parts stops it."""
    from music21 import instrument

    monkeypatch.setattr(instrument, "partitionByInstrument", lambda stream: None)
    found = chapter.extract_file(midi_files["scale"])
    assert found.instrument is None and found.kept == 8  # the flat notes, after the check
    with pytest.raises(AttributeError):
        chapter.extract_file(midi_files["scale"], as_printed=True)
    result = chapter.extract([midi_files["scale"], midi_files["chords"]])
    assert all(outcome.startswith("AttributeError") for outcome in result.per_file.values())
    assert result.musical_note == [] and result.notes_kept == 0  # the benchmark's loop reads as printed


def test_extract_loops_over_every_file_and_records_what_each_gave(midi_files):
    files = [midi_files["two_part"], midi_files["scale"], midi_files["chords"]]
    found = chapter.extract(files)
    one_by_one = [chapter.extract_file(path) for path in files]
    assert found.musical_note == [token for f in one_by_one for token in f.musical_note]
    assert found.offset == [offset for f in one_by_one for offset in f.offset]
    assert found.instrumentlist == [f.instrument for f in one_by_one]
    assert found.per_file == {path.name: f.kept for path, f in zip(files, one_by_one)}
    assert found.notes_kept == sum(f.kept for f in one_by_one)


def test_a_file_that_is_not_midi_is_recorded_not_raised(tmp_path, midi_files):
    (tmp_path / "page.mid").write_text("<html></html>")
    found = chapter.extract([tmp_path / "page.mid", midi_files["scale"]])
    assert isinstance(found.per_file["page.mid"], str) and found.per_file["scale.mid"] == 8


# ----------------------------------------------------------------------------- step 5: windows


def test_prepare_and_codes_to_windows_give_the_same_arrays():
    stream = [f"t{i % 7}" for i in range(150)]
    model_input, model_output, original, pitchcategory = chapter.prepare(stream, sequence_length=100)
    codes = np.array([pitchcategory.index(token) for token in stream])
    inputs, targets = chapter.codes_to_windows(codes, 100, len(pitchcategory))
    assert model_input.shape == inputs.shape == (50, 100, 1) and model_input.dtype == inputs.dtype == np.float64
    assert np.array_equal(model_input, inputs) and np.array_equal(model_output, targets)
    assert original[0] == codes[:100].tolist()


def test_codes_to_windows_shapes_scaling_and_one_hot():
    codes = np.random.default_rng(0).integers(0, 7, size=30).astype(np.int32)
    inputs, targets = chapter.codes_to_windows(codes, seq_length=5, vocab_size=7)
    assert inputs.shape == (25, 5, 1) and targets.shape == (25, 7)
    for i in range(25):
        assert np.allclose(inputs[i, :, 0] * 7, codes[i : i + 5])
        assert targets[i].sum() == 1.0 and targets[i].argmax() == codes[i + 5]
    assert inputs.max() < 1.0 and inputs.min() >= 0.0


def test_codes_to_windows_keep_every_column_when_the_last_token_is_never_a_target():
    """The to_categorical pitfall: code 4 (the last of 5) appears only inside a window."""
    import keras

    codes = np.array([4, 0, 1, 2, 3, 0, 1, 2, 3, 0], dtype=np.int32)
    _, targets = chapter.codes_to_windows(codes, seq_length=2, vocab_size=5)
    assert targets.shape == (8, 5)
    assert targets[:, 4].sum() == 0
    # what the chapter's to_categorical(targets) without num_classes gives (chapter.prepare does):
    assert keras.utils.to_categorical(codes[2:]).shape[1] == 4


def test_codes_to_windows_of_too_short_input_are_empty():
    inputs, targets = chapter.codes_to_windows(np.arange(3), seq_length=3, vocab_size=4)
    assert inputs.shape == (0, 3, 1) and targets.shape == (0, 4)


# ----------------------------------------------------------------------------- step 8: prediction and rhythm


def test_generate_and_generate_codes_are_the_same_loop():
    """The printed loop (scaled windows of the chapter's model) and the one for helpers.models' models."""
    from helpers import models

    vocab_size, seq_length = 6, 5
    theirs = chapter.build_model(seq_length, vocab_size)
    ours = models.build_gru_model(vocab_size, seq_length)
    ours.set_weights(theirs.get_weights())
    pattern = np.array([0, 3, 5, 1, 2])
    tokens = [f"t{i}" for i in range(vocab_size)]
    printed = chapter.generate(theirs, pattern, tokens, vocab_size, n_notes=4)
    codes = chapter.generate_codes(ours, pattern, n_notes=4)
    assert codes.dtype == np.int32 and printed == [tokens[code] for code in codes]


def test_even_step_is_the_spread_over_the_count():
    assert chapter.even_step([0.0, 1.0, 2.0, 8.0]) == 2.0
    assert chapter.even_step([3.0]) == 0.0
    with pytest.raises(DataError):
        chapter.even_step([])


def test_even_rhythm():
    offsets, durations = chapter.even_rhythm(4, 0.5)
    assert offsets.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert durations.tolist() == [1.0] * 4  # a quarter each, as music21's default note
    assert chapter.even_rhythm(2, 1.0, duration=0.25)[1].tolist() == [0.25, 0.25]
    assert chapter.even_rhythm(0, 1.0)[0].shape == (0,)


# ----------------------------------------------------------------------------- layers


def test_importing_the_chapter_loads_neither_tensorflow_nor_music21():
    """Notebooks 01-03 import it to read and cut; checked in a fresh process."""
    code = (
        "import sys, helpers.chapter\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'music21')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(config.ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
