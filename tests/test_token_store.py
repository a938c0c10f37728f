"""Tests of helpers.token_store: the on-disk token store against the in-memory path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import write_tune

from helpers import midi_reader, pipeline, sequences, token_store
from helpers.errors import OptionError
from helpers.load_report import NoUsableMidiError


@pytest.fixture
def folder(tmp_path):
    """Seven tunes of different lengths, a copy of one (a duplicate), and a file that is no MIDI."""
    folder = tmp_path / "tunes"
    for i in range(7):
        write_tune(folder / f"tune_{i}.mid", seed=i, n_notes=20 + 9 * i)
    shutil.copyfile(folder / "tune_2.mid", folder / "tune_2_copy.mid")
    (folder / "sub").mkdir()
    (folder / "sub" / "broken.mid").write_text("<html>not midi</html>")
    return folder


def in_memory(folder, **options):
    corpus = pipeline.prepare(folder, encoding="midilike", **options)
    pieces = list(dict.fromkeys(corpus.events["piece"]))
    return corpus, pieces


def test_store_holds_the_codes_and_pieces_of_the_in_memory_path(folder, tmp_path):
    corpus, pieces = in_memory(folder)
    store = token_store.folder_to_store(folder, tmp_path / "store", chunk_files=3, workers=1)
    assert store.pieces == pieces
    assert store.codes.dtype == np.int16 and isinstance(store.codes, np.memmap)
    expected = sequences.events_to_codes(corpus.events, corpus.vocab)
    assert np.array_equal(store.stream().to_array(), expected)
    lengths = corpus.events.groupby("piece", sort=False).size()
    assert store.lengths.tolist() == lengths[pieces].tolist()
    assert store.starts.tolist() == np.concatenate([[0], np.cumsum(store.lengths)[:-1]]).tolist()
    for piece in pieces:  # piece by piece, as the chapter's tokens
        tokens = corpus.events.loc[corpus.events["piece"] == piece, "token"].tolist()
        assert store.vocab.decode(store.piece_codes(piece)) == tokens
    # the same files used and skipped, for the same reasons
    report = store.report()
    assert [u["piece"] for u in report.used] == [u["piece"] for u in corpus.report.used]
    assert sorted((s["piece"], s["label"]) for s in report.skipped) == sorted(
        (s["piece"], s["label"]) for s in corpus.report.skipped)
    assert ("tune_2_copy.mid", "duplicate") in {(s["piece"], s["label"]) for s in report.skipped}
    assert store.settings["complete"] is True and store.settings["pieces"] == 7


def test_store_with_normalised_keys_records_each_shift(folder, tmp_path):
    corpus, pieces = in_memory(folder, normalise_keys=True)
    store = token_store.folder_to_store(folder, tmp_path / "store", normalise_keys=True, chunk_files=4, workers=1)
    assert np.array_equal(store.stream().to_array(), sequences.events_to_codes(corpus.events, corpus.vocab))
    assert store.key_shifts == corpus.key_shifts


def test_a_subset_of_pieces_is_the_stream_events_to_codes_gives(folder, tmp_path):
    corpus, pieces = in_memory(folder)
    store = token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    chosen = [pieces[5], pieces[1], pieces[3]]
    stream = store.stream(chosen)
    expected = np.concatenate([store.piece_codes(p) for p in chosen])
    assert len(stream) == len(expected) and np.array_equal(stream.to_array(), expected)
    positions = np.array([[0, len(expected) - 1], [len(stream.to_array()) // 2, 1]])
    assert np.array_equal(stream.read(positions), expected[positions])


def test_an_interrupted_prepare_resumes_to_the_store_of_a_clean_build(folder, tmp_path, monkeypatch):
    clean = token_store.folder_to_store(folder, tmp_path / "clean", chunk_files=3, workers=1)
    read = midi_reader.bytes_to_extract
    calls = []

    def interrupted(data, limits):
        calls.append(1)
        if len(calls) == 5:  # in the second chunk of three files
            raise KeyboardInterrupt
        return read(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        token_store.folder_to_store(folder, tmp_path / "store", chunk_files=3, workers=1)
    half = token_store.TokenStore.open(tmp_path / "store")
    assert half.settings["complete"] is False and len(half.entries) == 3  # the first chunk is kept
    # a chunk whose codes were written but not its index: cut off on opening
    with open(tmp_path / "store" / token_store.CODES_FILE, "ab") as handle:
        handle.write(b"\x07\x00" * 11)
    with open(tmp_path / "store" / token_store.INDEX_FILE, "a") as handle:
        handle.write('{"piece": "half a li')
    opened = token_store.TokenStore.open(tmp_path / "store")  # to read: the half chunk is not used, nor touched
    assert opened.entries == half.entries and len(opened.codes) == half.n_codes
    monkeypatch.setattr(midi_reader, "bytes_to_extract", read)
    calls.clear()
    reading = []
    monkeypatch.setattr(midi_reader, "bytes_to_extract", lambda data, limits: reading.append(1) or read(data, limits))
    resumed = token_store.folder_to_store(folder, tmp_path / "store", chunk_files=3, workers=1)
    assert len(reading) == 9 - 3 - 1  # not the first chunk's files, nor the duplicate
    assert resumed.pieces == clean.pieces and resumed.entries == clean.entries
    codes = {name: (tmp_path / name / token_store.CODES_FILE).read_bytes() for name in ("store", "clean")}
    assert codes["store"] == codes["clean"]
    assert resumed.settings == {**clean.settings, "folder": resumed.settings["folder"]}
    # run again: nothing is read
    reading.clear()
    again = token_store.folder_to_store(folder, tmp_path / "store", chunk_files=3, workers=1)
    assert not reading and again.entries == clean.entries


def test_a_grown_folder_is_appended(folder, tmp_path):
    token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    write_tune(folder / "tune_9.mid", seed=9, n_notes=30)
    with pytest.raises(token_store.StoreError, match="folder="):  # another folder is not mixed in
        token_store.folder_to_store(folder / "sub", tmp_path / "store", workers=1)
    store = token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    assert store.pieces[-1] == "tune_9.mid" and len(store.pieces) == 8
    corpus, _ = in_memory(folder)
    assert np.array_equal(store.piece_codes("tune_9.mid"),
                          sequences.events_to_codes(corpus.events, corpus.vocab, ["tune_9.mid"]))


def test_store_refuses_chord_encodings_other_settings_and_empty_folders(folder, tmp_path):
    with pytest.raises(OptionError, match="midilike"):
        token_store.folder_to_store(folder, tmp_path / "store", encoding="voiced")
    token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    with pytest.raises(token_store.StoreError, match="normalise_keys"):
        token_store.folder_to_store(folder, tmp_path / "store", normalise_keys=True, workers=1)
    with pytest.raises(token_store.StoreError, match="not a token store"):
        token_store.TokenStore.open(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mid").write_text("nothing")
    with pytest.raises(NoUsableMidiError):
        token_store.folder_to_store(tmp_path / "bad", tmp_path / "bad-store", workers=1)


def test_a_store_shorter_than_its_index_is_an_error(folder, tmp_path):
    token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    codes = tmp_path / "store" / token_store.CODES_FILE
    codes.write_bytes(codes.read_bytes()[:-4])
    with pytest.raises(token_store.StoreError, match="damaged"):
        token_store.TokenStore.open(tmp_path / "store")


def batches(dataset):
    return [(w.numpy(), t.numpy()) for w, t in dataset]


@pytest.mark.parametrize("shuffle", [True, False])
def test_stored_windows_are_the_in_memory_windows(folder, tmp_path, shuffle):
    corpus, pieces = in_memory(folder)
    store = token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    train, _ = sequences.split_by_piece(pieces, 0.3, seed=1)
    codes = sequences.events_to_codes(corpus.events, corpus.vocab, train)
    tables = np.stack([np.roll(np.arange(320, dtype=np.int32), k) for k in (0, 3)])
    for options in ({}, {"transpositions": tables}):
        memory = sequences.sequence_windows_dataset(codes, 8, 4, shuffle=shuffle, seed=3, **options)
        stored = sequences.sequence_windows_dataset(store.stream(train), 8, 4, shuffle=shuffle, seed=3, **options)
        for _ in range(2):  # two epochs: a new phase and order each, the same on both sides
            expected, got = batches(memory), batches(stored)
            assert len(got) == len(expected) > 1
            for (w1, t1), (w2, t2) in zip(expected, got):
                assert w2.dtype == np.int32 and np.array_equal(w1, w2) and np.array_equal(t1, t2)
    memory = sequences.windows_dataset(codes, 8, 16, shuffle=shuffle, seed=3)
    stored = sequences.windows_dataset(store.stream(train), 8, 16, shuffle=shuffle, seed=3)
    expected, got = batches(memory), batches(stored)
    assert len(got) == len(expected) > 1 and got[0][1].shape == (16,)  # one target after each window
    for (w1, t1), (w2, t2) in zip(expected, got):
        assert np.array_equal(w1, w2) and np.array_equal(t1, t2)


def test_stored_windows_too_few_codes_is_a_data_error(folder, tmp_path):
    store = token_store.folder_to_store(folder, tmp_path / "store", workers=1)
    with pytest.raises(ValueError, match="no window"):
        sequences.sequence_windows_dataset(store.stream(store.pieces[:1]), 10_000)


def test_train_store_run_trains_and_resumes_from_the_store(folder, tmp_path):
    store = pipeline.prepare_store(folder, tmp_path / "store", normalise_keys=True, workers=1)
    run = pipeline.train_store_run(store, "gru", seq_length=8, epochs=1, batch_size=8, units=(8,), embedding_dim=4,
                                   run_dir=tmp_path / "run")
    settings = run.settings
    assert settings["store"] == str((tmp_path / "store").resolve()) and settings["builder"] == "sequence"
    assert settings["encoding"] == "midilike" and settings["normalise_keys"] is True
    corpus, pieces = in_memory(folder, normalise_keys=True)
    train, val = sequences.split_by_piece(pieces, 0.2, 0)
    assert settings["train_pieces"] == train and settings["val_pieces"] == val
    assert settings["train_windows"] == sequences.count_sequence_windows(
        len(sequences.events_to_codes(corpus.events, corpus.vocab, train)), 8)
    primer = run.primer
    assert primer == {**pipeline.corpus_to_primer(corpus, val, 8)}
    assert len(run.history) == 1
    pipeline.resume_store_run(run.path, epochs=2)
    assert len(run.history) == 2
    path, notes = pipeline.generate_piece(run.path, n_notes=5)
    assert path.is_file()
