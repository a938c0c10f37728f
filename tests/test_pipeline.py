"""Tests of helpers.pipeline: prepare → train → generate on a tiny synthetic dataset."""

from __future__ import annotations

import json

import mido
import numpy as np
import pandas as pd
import pytest
from conftest import CHORD_NOTES, Track, count_pitched_note_ons, program_changes, redirect_outputs, write_midi, write_tune

from helpers import config, export, midi_io, midilike, models, pipeline, tokens
from helpers.midi_files import find_midi_files
from helpers.runs import Run, RunError

SEQ = 8


def n_events(notes):
    """Events of a notes table: distinct onsets."""
    return notes["offset"].round(6).nunique()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A corpus of four tunes and one run trained on it for one epoch: ``(corpus, run_dir)``."""
    root = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as patch:
        redirect_outputs(patch, root / "outputs")
        for i in range(4):
            write_tune(root / "tunes" / f"tune_{i}.mid", seed=i)
        corpus = pipeline.prepare(root / "tunes")
        run_dir = pipeline.train_run(corpus, "gru", seq_length=SEQ, epochs=1, batch_size=32, units=(4,), dense_units=4).path
    return corpus, run_dir


def test_prepare_reads_tokenises_and_builds_the_vocabulary(tune_folder):
    corpus = pipeline.prepare(tune_folder)
    assert len(corpus.report.used) == 4 and not corpus.report.skipped
    assert len(corpus.notes) == sum(count_pitched_note_ons(p) for p in find_midi_files(tune_folder))
    assert len(corpus.events) == len(corpus.notes)  # single-line tunes: one note per event
    assert set(corpus.events["token"]) == set(corpus.vocab.tokens)
    assert corpus.vocab.encoding == "voiced" and corpus.folder == tune_folder


def test_prepare_chapter_encoding(tmp_path):
    write_midi(tmp_path / "set" / "chords.mid", [Track(CHORD_NOTES)])
    corpus = pipeline.prepare(tmp_path / "set", encoding="chapter")
    assert corpus.vocab.encoding == "chapter"
    assert corpus.events["token"].tolist() == ["0.4.7", "5.9.0", "11.2.5.7", "0.4.7", "C4"]


def test_prepare_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        pipeline.prepare(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mid").write_text("<html></html>")
    with pytest.raises(midi_io.NoUsableMidiError):
        pipeline.prepare(tmp_path / "bad")


def test_primer_from_events_takes_the_longest_piece_by_default(tmp_path):
    write_tune(tmp_path / "set" / "short.mid", seed=0, n_notes=12)
    write_tune(tmp_path / "set" / "long.mid", seed=1, n_notes=30)
    events = pipeline.prepare(tmp_path / "set").events
    primer = pipeline.primer_from_events(events, SEQ)
    long_events = events[events["piece"] == "long.mid"]
    assert primer["source"] == "long.mid"
    assert primer["tokens"] == long_events["token"].head(SEQ).tolist()
    assert len(primer["steps"]) == len(primer["durations"]) == 30
    assert np.allclose(primer["steps"], long_events["step"])
    assert pipeline.primer_from_events(events, SEQ, piece="short.mid")["source"] == "short.mid"
    with pytest.raises(ValueError, match="no events"):
        pipeline.primer_from_events(events, SEQ, piece="absent.mid")


def test_primer_from_midi(midi_files):
    primer = pipeline.primer_from_midi(midi_files["chords"], seq_length=3)
    assert primer["tokens"] == ["C2.G3.E5", "F2.A3.C5", "G2.B3.D5.F5"]
    assert primer["steps"] == [2.0, 2.0, 2.0, 2.0, 1.0]


def test_train_run_writes_a_run_with_primer_and_split(trained):
    corpus, run_dir = trained
    assert run_dir.parent.name == "runs" and run_dir.name == "gru-001"
    settings = Run(run_dir).settings
    assert settings["seq_length"] == SEQ and settings["vocab_size"] == len(corpus.vocab)
    train, val = settings["train_pieces"], settings["val_pieces"]
    assert len(val) == 1 and set(train).isdisjoint(val) and len(train) + len(val) == 4
    primer = Run(run_dir).primer
    assert primer["source"] in val  # the primer is held-out music
    assert len(primer["tokens"]) == SEQ and primer["even_step"] > 0
    assert config.ROOT not in run_dir.parents  # never in the repository's outputs/
    # a folder outside the repository is recorded whole: the run finds its data again from anywhere
    assert settings["data"] == str(corpus.folder.resolve()) and Run(run_dir).data_folder == corpus.folder.resolve()


def test_resume_run_of_a_finished_run_says_so_before_reading_the_data(trained, tmp_path, monkeypatch):
    import shutil

    from helpers.runs import RunFinished

    _, run_dir = trained
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    monkeypatch.setattr(pipeline, "prepare", lambda *args, **kwargs: pytest.fail("the data was read"))
    with pytest.raises(RunFinished, match="finished its 1 epochs") as caught:
        pipeline.resume_run(copy)
    assert (caught.value.done, caught.value.planned) == (1, 1)
    with pytest.raises(RunFinished):
        pipeline.resume_run(copy, epochs=1)


def test_resume_run_of_the_older_format_without_builder_arguments(trained, tmp_path):
    """A config.json written before runs recorded their builder: rebuilt from the old keys, and
    recorded with all the builder's arguments from then on."""
    import shutil

    corpus, run_dir = trained
    copy = Run(tmp_path / "copy")
    shutil.copytree(run_dir, copy.path)
    settings = {key: value for key, value in copy.settings.items() if key not in ("builder", "builder_args", "stopped_early")}
    copy.config_path.write_text(json.dumps({**settings, "embedding_dim": 32}))  # as the old describe() wrote it
    pipeline.resume_run(copy, epochs=2, corpus=corpus)
    assert copy.history["epoch"].tolist() == [1, 2]
    assert copy.settings["builder"] == "gru" and copy.settings["builder_args"]["learning_rate"] == 0.001


def test_generated_pieces_never_overwrite_each_other(trained):
    _, run_dir = trained
    first, _ = pipeline.generate_piece(run_dir, n_notes=3, seed=1)
    second, _ = pipeline.generate_piece(run_dir, n_notes=3, seed=1)
    assert first != second and first.is_file() and second.is_file()


@pytest.mark.parametrize("n_notes", [1, 25])
def test_generate_piece_writes_the_requested_number_of_events(trained, n_notes):
    corpus, run_dir = trained
    path, notes = pipeline.generate_piece(run_dir, n_notes=n_notes, seed=3)
    assert path.is_file() and path.parent == run_dir / "generated"  # beside the model that made it
    assert path.name.startswith("gru-sample-") and path.suffix == ".mid"
    assert n_events(notes) == n_notes
    assert set(tokens.notes_to_tokens(notes)) <= set(corpus.vocab.tokens)
    assert count_pitched_note_ons(path) == len(notes)
    back, _ = midi_io.midi_to_notes(path)
    assert n_events(back) == n_notes


def test_generate_piece_is_reproducible_and_seeded(trained, tmp_path):
    _, run_dir = trained
    _, first = pipeline.generate_piece(run_dir, n_notes=30, seed=1, temperature=3.0, output=tmp_path / "a.mid")
    _, again = pipeline.generate_piece(run_dir, n_notes=30, seed=1, temperature=3.0, output=tmp_path / "b.mid")
    _, other = pipeline.generate_piece(run_dir, n_notes=30, seed=2, temperature=3.0, output=tmp_path / "c.mid")
    assert first.equals(again)
    assert not first["pitch"].equals(other["pitch"])
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_generate_piece_rhythms_and_instrument(trained, tmp_path):
    _, run_dir = trained
    primer = Run(run_dir).primer
    path, notes = pipeline.generate_piece(
        run_dir, n_notes=6, method="argmax", rhythm="even", instrument="Violin", output=tmp_path / "even.mid"
    )
    onsets = np.sort(notes["offset"].unique())
    assert np.allclose(onsets, np.arange(6) * primer["even_step"])
    assert (notes["duration"] == 1.0).all()
    assert set(program_changes(path)) == {40}
    _, data = pipeline.generate_piece(run_dir, n_notes=4, rhythm="data", output=tmp_path / "data.mid")
    start = len(primer["tokens"])  # the rhythm of the passage after the primer
    expected = np.concatenate([[0.0], np.cumsum(primer["steps"][start : start + 3])])
    assert np.allclose(np.sort(data["offset"].unique()), expected)
    with pytest.raises(ValueError, match="rhythm"):
        pipeline.generate_piece(run_dir, n_notes=2, rhythm="swing", output=tmp_path / "swing.mid")


def test_generate_piece_with_an_unknown_instrument_leaves_no_file(trained):
    _, run_dir = trained
    before = sorted((run_dir / "generated").iterdir())
    with pytest.raises(export.ExportError, match="unknown instrument"):
        pipeline.generate_piece(run_dir, n_notes=3, instrument="Kazoo-o-phone")
    assert sorted((run_dir / "generated").iterdir()) == before  # no 0-byte .mid under a claimed name


def test_generate_piece_that_fails_while_writing_gives_its_claimed_name_back(trained, monkeypatch):
    _, run_dir = trained
    before = sorted((run_dir / "generated").iterdir())

    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "notes_to_midi", failing)
    with pytest.raises(OSError):
        pipeline.generate_piece(run_dir, n_notes=3)
    assert sorted((run_dir / "generated").iterdir()) == before


def test_primer_is_written_atomically(trained):
    _, run_dir = trained
    assert Run(run_dir).primer["tokens"]
    assert not [p for p in run_dir.iterdir() if ".tmp" in p.name]


def test_prepare_passes_the_per_file_limits(tune_folder):
    corpus = pipeline.prepare(tune_folder, max_notes=1_000, max_quarters=100.0)
    assert corpus.load_options == {"max_notes": 1_000, "max_quarters": 100.0} and len(corpus.report.used) == 4
    with pytest.raises(midi_io.NoUsableMidiError, match="too many notes"):
        pipeline.prepare(tune_folder, max_notes=5)


def test_generate_piece_from_a_primer_with_unknown_tokens(trained, midi_files, tmp_path):
    corpus, run_dir = trained
    assert "C2.G3.E5" not in corpus.vocab  # chords the tunes never play: mapped to the nearest
    path, notes = pipeline.generate_piece(run_dir, n_notes=5, primer_midi=midi_files["chords"], output=tmp_path / "p.mid")
    assert n_events(notes) == 5 and path.is_file()


def test_generate_piece_is_written_with_mido_readable_notes(trained, tmp_path):
    _, run_dir = trained
    path, notes = pipeline.generate_piece(run_dir, n_notes=10, weights="final", output=tmp_path / "f.mid")
    pitches = sorted(m.note for m in mido.MidiFile(str(path)) if m.type == "note_on" and m.velocity > 0)
    assert pitches == sorted(notes["pitch"].tolist())


# ----------------------------------------------------------------------------- MIDI-like tokens and the improved recipe

IMPROVED = {"seq_length": SEQ, "epochs": 1, "batch_size": 8, "recipe": "improved", "units": (8,), "embedding_dim": 4}


@pytest.fixture(scope="module")
def improved(tmp_path_factory):
    """Four tunes as MIDI-like tokens and one improved-recipe run of one epoch: ``(corpus, run_dir)``."""
    root = tmp_path_factory.mktemp("improved")
    with pytest.MonkeyPatch.context() as patch:
        redirect_outputs(patch, root / "outputs")
        for i in range(4):
            write_tune(root / "tunes" / f"tune_{i}.mid", seed=20 + i)
        corpus = pipeline.prepare(root / "tunes", encoding="midilike", normalise_keys=True)
        run_dir = pipeline.train_run(corpus, "gru", **IMPROVED).path
    return corpus, run_dir


def on_grid(values):
    steps = np.asarray(values, dtype=float) * midilike.STEPS_PER_QUARTER
    return np.allclose(steps, np.round(steps), atol=1e-9)


def test_prepare_midilike(tune_folder):
    corpus = pipeline.prepare(tune_folder, encoding="midilike")
    assert len(corpus.vocab) == 320 and corpus.vocab.encoding == "midilike"
    assert list(corpus.events.columns) == ["piece", "offset", "token"]
    assert corpus.events.equals(midilike.notes_to_events(corpus.notes))
    assert set(corpus.events["token"]) <= set(corpus.vocab.tokens)
    assert corpus.events["piece"].nunique() == 4
    # single-line tunes: one P and one D per note
    assert corpus.events["token"].str.startswith("P").sum() == len(corpus.notes)


def test_prepare_unknown_encoding_is_a_value_error(tune_folder):
    with pytest.raises(ValueError, match="encoding='abc'"):
        pipeline.prepare(tune_folder, encoding="abc")


def test_train_run_improved_records_its_recipe(improved):
    corpus, run_dir = improved
    assert run_dir.name == "gru-improved-001" and run_dir.parent.name == "runs"
    assert config.ROOT not in run_dir.parents
    settings = Run(run_dir).settings
    assert settings["recipe"] == "improved" and settings["encoding"] == "midilike"
    assert settings["builder"] == "sequence"
    assert settings["builder_args"] == {  # every argument of the builder, its defaults too
        "vocab_size": 320, "seq_length": SEQ, "layer": "gru", "units": [8], "embedding_dim": 4,
        "dropout": models.SEQUENCE_DROPOUT, "learning_rate": models.SEQUENCE_LEARNING_RATE,
    }
    assert settings["reduce_lr_patience"] == 2
    assert settings["transpositions"] == 0 and settings["normalise_keys"] is True
    assert settings["vocab_size"] == 320 and len(settings["val_pieces"]) == 1
    primer = Run(run_dir).primer
    assert primer["key_shift"] == corpus.key_shifts[primer["source"]]
    assert primer["source"] in settings["val_pieces"] and len(primer["tokens"]) == SEQ
    assert "steps" not in primer  # MIDI-like tokens carry their own rhythm
    model, vocab = Run(run_dir).load_model(), Run(run_dir).vocab
    assert models.predicts_every_step(model) and len(vocab) == 320
    assert model.predict(np.zeros((1, SEQ), dtype=np.int32), verbose=0).shape == (1, SEQ, 320)


def test_train_run_improved_into_a_given_folder_without_transpositions(tmp_path):
    for i in range(3):
        write_tune(tmp_path / "tunes" / f"t{i}.mid", seed=i, n_notes=20)
    corpus = pipeline.prepare(tmp_path / "tunes", encoding="midilike")
    run_dir = pipeline.train_run(corpus, "lstm", **{**IMPROVED, "units": (4,)}, val_fraction=0.0,
                                 run_dir=tmp_path / "mine", transpose=False).path
    assert run_dir == tmp_path / "mine" and not config.RUNS_DIR.exists()
    settings = Run(run_dir).settings
    assert settings["transpositions"] == 0 and settings["val_pieces"] == [] and settings["monitor"] == "loss"
    assert settings["builder_args"]["layer"] == "lstm" and settings["architecture"] == "lstm"
    # a run without validation pieces cannot be evaluated
    with pytest.raises(RunError, match="validation"):
        pipeline.evaluate_run(run_dir, samples=1, n_notes=5)


def test_train_run_unknown_recipe_is_a_value_error(improved):
    corpus, _ = improved
    with pytest.raises(ValueError, match="recipe='nonsense'"):
        pipeline.train_run(corpus, "gru", **{**IMPROVED, "recipe": "nonsense"})


def test_resume_run_continues_an_improved_run(improved, tmp_path):
    import shutil

    _, run_dir = improved
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert pipeline.resume_run(copy, epochs=2) == Run(copy)
    assert Run(copy).history["epoch"].tolist() == [1, 2]
    assert pd.read_csv(copy / "history.csv")["epoch"].tolist() == [0, 1]  # epoch 1 not trained again
    settings = Run(copy).settings
    assert settings["recipe"] == "improved" and settings["builder"] == "sequence" and settings["epochs"] == 2


def test_generate_piece_of_a_midilike_run_plays_the_models_rhythm(improved):
    _, run_dir = improved
    path, notes = pipeline.generate_piece(run_dir, n_notes=30, seed=1)
    assert path.is_file() and path.parent == run_dir / "generated" and path.name == "gru-sample-001.mid"
    assert len(notes) == 30
    assert on_grid(notes["offset"]) and on_grid(notes["duration"])
    steps = np.round(notes["duration"] * midilike.STEPS_PER_QUARTER)
    assert steps.min() >= 1 and steps.max() <= midilike.MAX_STEPS
    # the tunes (and the primer) hold eighths and quarters only: other values come from the model
    assert not set(steps) <= {12, 24}
    assert count_pitched_note_ons(path) == 30
    back, _ = midi_io.midi_to_notes(path)
    assert sorted(back["pitch"]) == sorted(notes["pitch"])
    # the same notes as decoding the model's own tokens
    model, vocab = Run(run_dir).load_model(), Run(run_dir).vocab
    primer = Run(run_dir).primer
    again = pipeline.generate_notes(model, vocab, primer, 30, seed=1)
    assert again.equals(notes)


def test_generate_notes_of_a_midilike_run_in_a_batch(improved):
    from helpers import generation

    _, run_dir = improved
    model, vocab = Run(run_dir).load_model(), Run(run_dir).vocab
    primer = Run(run_dir).primer
    pieces = pipeline.generate_notes(generation.Stepper(model), vocab, primer, 12, seed=2, batch=3)
    assert isinstance(pieces, list) and len(pieces) == 3
    assert [len(piece) for piece in pieces] == [12, 12, 12]
    assert not pieces[0].equals(pieces[1])  # different draws from the same primer
    argmax = pipeline.generate_notes(model, vocab, primer, 5, method="argmax", batch=2)
    assert len(argmax) == 2 and argmax[0].equals(argmax[1])


def test_evaluate_run_of_an_improved_run(improved):
    from helpers import evaluate

    _, run_dir = improved
    result = pipeline.evaluate_run(run_dir, samples=2, n_notes=15)
    assert isinstance(result, pipeline.Evaluation) and result.encoding == "midilike"
    table = result.cross_entropy
    assert list(table.index) == ["unigram", "bigram", "trigram", run_dir.name]
    assert table["tokens"].nunique() == 1 and table["tokens"].iloc[0] > 0
    assert np.isfinite(table["nats_per_token"]).all()
    assert list(result.verdicts.index) == list(evaluate.MAIN_METRICS) and len(result.verdicts) == 6
    assert {"generated", "validation"} <= set(result.copy.index)
    assert len(result.samples) + result.silent_samples == 2
    text = str(result)
    for fragment in ("nats/token", "unigram", "bigram", "trigram", run_dir.name, "copied 8-event runs",
                     *evaluate.MAIN_METRICS):
        assert fragment in text, fragment


def test_evaluate_run_whose_data_folder_is_gone(improved, tmp_path):
    import shutil

    _, run_dir = improved
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    data = tmp_path / "data"
    shutil.copytree(run_dir.parents[2] / "tunes", data)
    Run(copy).write_settings({"data": str(data)})
    shutil.rmtree(data)
    with pytest.raises(RunError, match="data"):
        pipeline.evaluate_run(copy, samples=1, n_notes=5)


def test_generate_piece_of_a_midilike_run_from_a_midi_primer(improved, midi_files, tmp_path):
    _, run_dir = improved
    path, notes = pipeline.generate_piece(run_dir, n_notes=6, primer_midi=midi_files["chords"], seed=4,
                                          output=tmp_path / "primed.mid")
    assert path == tmp_path / "primed.mid" and path.is_file() and len(notes) == 6
    assert on_grid(notes["offset"]) and on_grid(notes["duration"])


def test_train_run_improved_with_transposed_copies(tune_folder):
    corpus = pipeline.prepare(tune_folder, encoding="midilike")
    run_dir = pipeline.train_run(corpus, "gru", **{**IMPROVED, "transpose": True}).path
    settings = Run(run_dir).settings
    assert settings["transpositions"] == len(pipeline.TRANSPOSITIONS) == 12 and settings["normalise_keys"] is False


def test_normalised_keys_and_the_piece_back_in_the_primers_key(tmp_path):
    """The same tunes a tone higher are read as the same music; a piece comes out in its primer's key."""
    for i in range(4):
        write_tune(tmp_path / "tunes" / f"tune_{i}.mid", seed=40 + i, n_notes=60)
    plain = pipeline.prepare(tmp_path / "tunes", encoding="midilike")
    for piece, notes in plain.notes.groupby("piece"):
        export.notes_to_midi(notes.assign(pitch=notes["pitch"] + 2), tmp_path / "higher" / piece)
    normalised = pipeline.prepare(tmp_path / "tunes", encoding="midilike", normalise_keys=True)
    corpus = pipeline.prepare(tmp_path / "higher", encoding="midilike", normalise_keys=True)
    for piece, shift in corpus.key_shifts.items():
        assert (shift - normalised.key_shifts[piece] + 2) % 12 == 0
        assert -5 <= shift <= 6
    for piece, notes in corpus.notes.groupby("piece"):  # the same music, at most an octave apart (-5..+6)
        before = normalised.notes[normalised.notes["piece"] == piece]
        difference = notes["pitch"].to_numpy() - before["pitch"].to_numpy()
        assert len(set(difference)) == 1 and difference[0] in (-12, 0, 12)
    run_dir = pipeline.train_run(corpus, "gru", **IMPROVED).path
    primer = Run(run_dir).primer
    assert primer["key_shift"] == corpus.key_shifts[primer["source"]]
    _, notes = pipeline.generate_piece(run_dir, n_notes=30, seed=0)
    model, vocab = Run(run_dir).load_model(), Run(run_dir).vocab
    in_c = pipeline.generate_notes(model, vocab, primer, 30, seed=0)
    assert np.array_equal(notes["pitch"].to_numpy(), in_c["pitch"].to_numpy() - primer["key_shift"])


def test_to_primer_key_moves_a_piece_back_and_drops_what_leaves_midi():
    notes = pd.DataFrame({"offset": [0.0, 1.0, 2.0], "duration": [1.0] * 3, "pitch": [60, 64, 124]})
    assert pipeline.to_primer_key(notes, {"tokens": []}) is notes  # no shift recorded: as it is
    moved = pipeline.to_primer_key(notes, {"key_shift": -5})  # the primer was moved 5 down to C
    assert moved["pitch"].tolist() == [65, 69]  # 124 + 5 is no MIDI pitch
