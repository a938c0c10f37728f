"""Tests of helpers.sequences: splitting by piece and the training windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import chapter, sequences
from helpers.tokens import Vocabulary


def collect(dataset):
    """All batches of a windows dataset, joined: (windows, targets) as NumPy arrays."""
    windows, targets = zip(*[(w.numpy(), t.numpy()) for w, t in dataset])
    return np.concatenate(windows), np.concatenate(targets)


# ----------------------------------------------------------------------------- counting windows


@pytest.mark.parametrize("n_codes, seq_length, expected", [(10, 3, 7), (101, 100, 1), (100, 100, 0), (5, 100, 0)])
def test_count_windows(n_codes, seq_length, expected):
    assert sequences.count_windows(n_codes, seq_length) == expected


# ----------------------------------------------------------------------------- streaming windows


def test_windows_dataset_matches_the_chapters_windows_unshuffled():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 9, size=53).astype(np.int32)
    windows, targets = collect(sequences.windows_dataset(codes, seq_length=8, batch_size=10, shuffle=False))
    inputs, one_hot = chapter.codes_to_windows(codes, 8, 9)
    assert windows.shape == (45, 8) and targets.shape == (45,)
    assert np.array_equal(windows, np.rint(inputs[:, :, 0] * 9).astype(np.int32))
    assert np.array_equal(targets, one_hot.argmax(axis=1))


def test_windows_dataset_batch_shapes_and_dtypes():
    dataset = sequences.windows_dataset(np.arange(30) % 5, seq_length=4, batch_size=8, shuffle=False)
    shapes = [(w.shape, t.shape) for w, t in dataset]
    assert shapes == [((8, 4), (8,))] * 3 + [((2, 4), (2,))]  # 26 windows
    windows, targets = next(iter(dataset))
    assert windows.dtype.name == "int32" and targets.dtype.name == "int32"


def test_windows_dataset_shuffles_reproducibly_and_keeps_the_pairs():
    codes = np.arange(40, dtype=np.int32)  # each window is identified by its first code
    first = collect(sequences.windows_dataset(codes, 5, batch_size=7, shuffle=True, seed=3))
    again = collect(sequences.windows_dataset(codes, 5, batch_size=7, shuffle=True, seed=3))
    other = collect(sequences.windows_dataset(codes, 5, batch_size=7, shuffle=True, seed=4))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0][:, 0], other[0][:, 0])
    assert not np.array_equal(first[0][:, 0], np.arange(35))  # shuffled
    assert sorted(first[0][:, 0]) == list(range(35))  # every window exactly once
    assert np.array_equal(first[1], first[0][:, 0] + 5)  # each target stays with its window
    assert np.array_equal(first[0], first[0][:, :1] + np.arange(5))


def test_windows_dataset_reshuffles_every_epoch():
    dataset = sequences.windows_dataset(np.arange(60, dtype=np.int32), 4, batch_size=100, shuffle=True, seed=0)
    epoch_1, epoch_2 = (collect(dataset)[1] for _ in range(2))
    assert sorted(epoch_1) == sorted(epoch_2) and not np.array_equal(epoch_1, epoch_2)


@pytest.mark.parametrize("n_codes", [0, 3, 8])
def test_windows_dataset_too_short_is_a_value_error(n_codes):
    with pytest.raises(ValueError, match="no window of 8"):
        sequences.windows_dataset(np.zeros(n_codes, dtype=np.int32), seq_length=8)


# ----------------------------------------------------------------------------- pieces


def test_split_by_piece_keeps_pieces_whole_and_is_reproducible():
    pieces = [f"p{i}" for i in range(10) for _ in range(5)]  # 10 pieces, 5 events each
    train, val = sequences.split_by_piece(pieces, val_fraction=0.2, seed=1)
    assert len(val) == 2 and len(train) == 8
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(pieces)
    assert (train, val) == sequences.split_by_piece(pieces, val_fraction=0.2, seed=1)
    assert train == [p for p in dict.fromkeys(pieces) if p in set(train)]  # order kept
    others = {tuple(sequences.split_by_piece(pieces, 0.2, seed)[1]) for seed in range(10)}
    assert len(others) > 1  # the seed matters


def test_split_by_piece_keeps_one_piece_for_training():
    assert sequences.split_by_piece(["only"] * 4, 0.5) == (["only"], [])
    train, val = sequences.split_by_piece(["a", "b"], 0.9)
    assert len(train) == 1 and len(val) == 1
    assert sequences.split_by_piece(["a", "b", "c"], 0.0) == (["a", "b", "c"], [])


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_by_piece_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        sequences.split_by_piece(["a", "b"], fraction)


def test_events_to_codes_takes_the_chosen_pieces_in_order():
    events = pd.DataFrame({"piece": ["a", "a", "b", "c"], "token": ["C4", "E4", "G4", "C4"]})
    vocab = Vocabulary(events["token"])
    assert sequences.events_to_codes(events, vocab).tolist() == [0, 1, 2, 0]
    assert sequences.events_to_codes(events, vocab, ["c", "a"]).tolist() == [0, 1, 0]
    assert sequences.events_to_codes(events, vocab, ["b"]).dtype == np.int32


def test_shuffled_epochs_keep_whole_batches_of_distinct_windows():
    codes = np.arange(105, dtype=np.int32)  # 100 windows of 5
    dataset = sequences.windows_dataset(codes, 5, batch_size=32, shuffle=True, seed=1)
    assert dataset.cardinality().numpy() == 3  # 100 // 32: a fixed batch shape
    epochs = [np.concatenate([w.numpy()[:, 0] for w, _ in dataset]) for _ in range(2)]
    for starts in epochs:
        assert len(starts) == 96 and len(set(starts.tolist())) == 96  # no window twice
    assert set(epochs[0].tolist()) != set(epochs[1].tolist()) or (epochs[0] != epochs[1]).any()


def test_fewer_windows_than_a_batch_still_give_one_batch():
    dataset = sequences.windows_dataset(np.arange(12, dtype=np.int32), 4, batch_size=64, shuffle=True)
    (windows, targets), = list(dataset)
    assert windows.shape == (8, 4) and sorted(targets.numpy().tolist()) == list(range(4, 12))


# ----------------------------------------------------------------------------- windows with a target at every step


@pytest.mark.parametrize("n_codes, seq_length, expected", [(25, 4, 5), (24, 4, 4), (9, 4, 1), (8, 4, 0), (3, 4, 0),
                                                           (0, 4, 0), (257, 128, 1)])
def test_count_sequence_windows(n_codes, seq_length, expected):
    assert sequences.count_sequence_windows(n_codes, seq_length) == expected


def test_sequence_windows_unshuffled_start_at_multiples_of_the_length():
    codes = np.arange(100, 127, dtype=np.int32)  # 27 codes, each names its position (+100)
    dataset = sequences.sequence_windows_dataset(codes, 5, batch_size=2, shuffle=False)
    windows, targets = collect(dataset)
    n = sequences.count_sequence_windows(27, 5)
    assert n == 4 and windows.shape == (n, 5) and targets.shape == (n, 5)
    assert windows.dtype == np.int32 and targets.dtype == np.int32
    assert windows[:, 0].tolist() == [100, 105, 110, 115]
    for window, target in zip(windows, targets):
        start = window[0] - 100
        assert np.array_equal(window, codes[start : start + 5])
        assert np.array_equal(target, codes[start + 1 : start + 6])  # shifted by one
    assert [w.shape[0] for w, _ in dataset] == [2, 2]


def test_sequence_windows_shuffled_are_contiguous_slices_at_a_new_phase_each_epoch():
    codes = np.arange(203, dtype=np.int32)  # 40 windows of 5
    dataset = sequences.sequence_windows_dataset(codes, 5, batch_size=8, shuffle=True, seed=2)
    epochs = [collect(dataset) for _ in range(4)]
    phases, orders = set(), []
    for windows, targets in epochs:
        assert windows.shape == (32, 5)  # (203 - 1) // 5 - 1 = 39 windows: 4 whole batches of 8
        assert np.array_equal(windows, windows[:, :1] + np.arange(5))  # contiguous slices
        assert np.array_equal(targets, windows + 1)
        assert targets.max() <= 202
        starts = windows[:, 0]
        assert len(set(starts % 5)) == 1  # one phase per epoch, windows that do not overlap
        assert len(set(starts.tolist())) == len(starts)
        phases.add(int(starts[0] % 5))
        orders.append(starts.tolist())
    assert len(phases) > 1  # the phase changes between epochs
    assert any(order != sorted(order) for order in orders)  # shuffled
    again = collect(sequences.sequence_windows_dataset(codes, 5, batch_size=8, shuffle=True, seed=2))
    assert np.array_equal(again[0], epochs[0][0])  # reproducible from the seed


def test_sequence_windows_shuffled_keep_whole_batches():
    dataset = sequences.sequence_windows_dataset(np.arange(203, dtype=np.int32), 5, batch_size=8, shuffle=True)
    assert [w.shape for w, _ in dataset] == [(8, 5)] * 4  # 39 windows: 4 whole batches, 7 left over


def test_sequence_windows_transpositions_use_one_table_per_window():
    vocab_size = 200
    codes = (np.arange(303) % 100).astype(np.int32)  # codes 0..99 only
    shift = np.arange(vocab_size, dtype=np.int32)
    shift[:100] += 100  # code c → c + 100: a transposition that shows
    shift[7] = -1  # out of range: code 7 is left as it is
    tables = np.stack([np.arange(vocab_size, dtype=np.int32), shift])
    dataset = sequences.sequence_windows_dataset(codes, 6, batch_size=4, shuffle=True, seed=0, transpositions=tables)
    seen_plain = seen_moved = 0
    for _ in range(2):
        windows, targets = collect(dataset)
        assert np.array_equal(targets[:, :-1], windows[:, 1:])  # inputs and targets through the same table
        for window, target in zip(windows, targets):
            span = np.concatenate([window, target[-1:]])
            moved = span >= 100
            if moved.any():  # the whole window (and its targets) went through the shifting table
                seen_moved += 1
                assert np.array_equal(moved, span != 7), span
                original = np.where(moved, span - 100, span)
            else:
                seen_plain += 1
                original = span
            assert np.array_equal(original % 100, (original[0] + np.arange(7)) % 100)  # a slice of the stream
    assert seen_plain and seen_moved  # both tables are drawn


def test_sequence_windows_transpositions_are_not_applied_unshuffled():
    tables = np.stack([np.arange(10, dtype=np.int32)[::-1]])
    codes = (np.arange(31) % 10).astype(np.int32)
    windows, targets = collect(sequences.sequence_windows_dataset(codes, 5, shuffle=False, transpositions=tables))
    assert np.array_equal(windows[0], codes[:5]) and np.array_equal(targets[0], codes[1:6])


@pytest.mark.parametrize("n_codes", [0, 5, 12])
def test_sequence_windows_too_few_codes_is_a_value_error(n_codes):
    with pytest.raises(ValueError, match="no window of 6"):
        sequences.sequence_windows_dataset(np.zeros(n_codes, dtype=np.int32), 6)
