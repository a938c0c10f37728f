"""Tests of helpers.pipeline: prepare → train → generate on a tiny synthetic dataset."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest
from conftest import CHORD_NOTES, Track, count_pitched_note_ons, program_changes, redirect_outputs, write_midi, write_tune

from helpers import config, export, midi_io, pipeline, tokens

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
        run_dir = pipeline.train_run(corpus, "gru", seq_length=SEQ, epochs=1, batch_size=32, units=(4,), dense_units=4)
    return corpus, run_dir


def test_prepare_reads_tokenises_and_builds_the_vocabulary(tune_folder):
    corpus = pipeline.prepare(tune_folder)
    assert len(corpus.report.used) == 4 and not corpus.report.skipped
    assert len(corpus.notes) == sum(count_pitched_note_ons(p) for p in midi_io.find_midi_files(tune_folder))
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
    settings = json.loads((run_dir / "config.json").read_text())
    assert settings["seq_length"] == SEQ and settings["vocab_size"] == len(corpus.vocab)
    train, val = settings["train_pieces"], settings["val_pieces"]
    assert len(val) == 1 and set(train).isdisjoint(val) and len(train) + len(val) == 4
    primer = json.loads((run_dir / "primer.json").read_text())
    assert primer["source"] in val  # the primer is held-out music
    assert len(primer["tokens"]) == SEQ and primer["even_step"] > 0
    assert config.ROOT not in run_dir.parents  # never in the repository's outputs/


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
    primer = json.loads((run_dir / "primer.json").read_text())
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
    assert json.loads((run_dir / "primer.json").read_text())["tokens"]
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
