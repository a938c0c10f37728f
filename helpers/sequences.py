"""Training windows: ``seq_length`` codes in, the next code out — without copying them all.

Explained in notebook 03. The chapter builds every window as its own list
(``n × seq_length`` numbers) and a one-hot target (``n × vocab_size``): memory grows with
data × window (:func:`helpers.chapter.codes_to_windows`). Here a window is just its start position; :func:`windows_dataset` cuts the
windows from one array of codes batch by batch, so memory grows with the data alone.

Both dataset functions also take a :class:`helpers.token_store.StoredStream` instead of an
array: the windows are then read batch by batch from the store's memory map
(:func:`stored_windows_dataset`), never the whole stream at once — the large-collection path.

TensorFlow is imported only inside :func:`windows_dataset`, so notebooks 01–03 start fast.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.errors import DataError
from helpers.token_store import StoredStream


def split_by_piece(
    pieces: Sequence[str], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split piece names into training and validation pieces (whole pieces, never cut).

    Windows of one piece then never land on both sides, so the validation loss measures
    music the model has not seen. At least one piece is kept for training; with a single
    piece there is no validation set.

    Returns:
        ``(train_pieces, val_pieces)``, each in the order given.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction}: expected 0 <= val_fraction < 1")
    unique = list(dict.fromkeys(pieces))
    count = min(int(round(len(unique) * val_fraction)), len(unique) - 1)
    chosen = set(random.Random(seed).sample(unique, count)) if count > 0 else set()
    return [p for p in unique if p not in chosen], [p for p in unique if p in chosen]


def events_to_codes(events: pd.DataFrame, vocab, pieces: Sequence[str] | None = None) -> np.ndarray:
    """Codes of the events of ``pieces`` (all pieces by default), piece after piece, as int32.

    As in the chapter the pieces are joined into one stream, so a window may run from the end
    of one piece into the next.
    """
    if pieces is not None:
        events = events[events["piece"].isin(set(pieces))]
    return vocab.encode(events["token"].tolist())


def count_windows(n_codes: int, seq_length: int) -> int:
    """Number of (window, next code) pairs in ``n_codes`` codes: ``max(0, n_codes - seq_length)``."""
    return max(0, int(n_codes) - int(seq_length))


def _stream(codes: np.ndarray, seq_length: int, count):
    """TensorFlow, the codes as one int32 tensor, and ``count(len(codes), seq_length)`` windows
    (a ValueError when there is not a single one)."""
    from helpers import config

    tf = config.import_tensorflow()
    n = count(len(codes), seq_length)
    if n == 0:
        raise DataError(
            f"{len(codes)} codes give no window of {seq_length}: use more music or a shorter seq_length"
        )
    return tf, tf.constant(np.asarray(codes, dtype=np.int32)), n


def _shuffled_starts(tf, n: int, seed: int, stride: int = 1):
    """Window starts ``0, stride, 2 stride, …`` (n of them) in a new order every epoch; with
    ``stride > 1`` all shifted by a new random phase ``0..stride-1`` every epoch.

    Dataset.shuffle(n) would hold every start as an element of its buffer (~200 bytes each);
    one int64 permutation per epoch holds 8.
    """

    def epoch_starts(epoch_seed):
        key = tf.stack([epoch_seed, tf.constant(seed, tf.int64)])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
        if stride == 1:
            return tf.data.Dataset.from_tensor_slices(order)
        phase = tf.random.stateless_uniform([], key, maxval=stride, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices(phase + order * stride)

    epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return epoch_seeds.flat_map(epoch_starts).apply(tf.data.experimental.assert_cardinality(n))


def windows_dataset(
    codes: np.ndarray,
    seq_length: int,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
):
    """A ``tf.data.Dataset`` of ``(windows (batch, seq_length) int32, targets (batch,) int32)``.

    Only ``codes`` and, while shuffling, one permutation of the window starts (8 bytes a
    window) are held in memory; each batch gathers its windows when it is needed. Targets are
    integer codes (sparse labels), ready for sparse categorical cross-entropy.

    Shuffled, every epoch draws a new permutation (reproducibly, from ``seed``) and keeps whole
    batches only, ``n // batch_size`` of them: a fixed batch shape lets Keras run about 1.5×
    faster on a CPU, and the up to ``batch_size - 1`` windows left over are different ones each
    epoch. Unshuffled (validation, inspection), every window comes once, in order.

    Args:
        codes: one stream of token codes, or a :class:`~helpers.token_store.StoredStream`
            (read from disk, see :func:`stored_windows_dataset`).
        seq_length: steps per window (the chapter: 100).
        batch_size: windows per batch (the chapter: 64).
        shuffle: reshuffle the windows every epoch, as above.
        seed: shuffling seed.

    Raises:
        ValueError: fewer than ``seq_length + 1`` codes (not a single window).
    """
    if isinstance(codes, StoredStream):
        return stored_windows_dataset(codes, seq_length, batch_size, shuffle, seed, every_step=False)
    tf, stream, n = _stream(codes, seq_length, count_windows)
    offsets = tf.range(seq_length, dtype=tf.int64)
    starts = _shuffled_starts(tf, n, seed) if shuffle else tf.data.Dataset.range(n)
    whole_batches_only = shuffle and n >= batch_size

    def cut(batch_starts):
        windows = tf.gather(stream, batch_starts[:, None] + offsets[None, :])
        targets = tf.gather(stream, batch_starts + seq_length)
        return windows, targets

    batches = starts.batch(batch_size, drop_remainder=whole_batches_only)
    return batches.map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def count_sequence_windows(n_codes: int, seq_length: int) -> int:
    """Windows of :func:`sequence_windows_dataset` per epoch: ``(n_codes - 1) // seq_length - 1``
    (one window less than fits, so that every epoch can start at another phase)."""
    return max(0, (int(n_codes) - 1) // int(seq_length) - 1)


def sequence_windows_dataset(
    codes: np.ndarray,
    seq_length: int,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    transpositions: np.ndarray | None = None,
):
    """Windows with a target at *every* step, for the improved recipe (notebook 08).

    Each element is ``(windows (batch, seq_length), targets (batch, seq_length))`` of int32,
    where ``targets[:, t]`` is the code that follows ``windows[:, t]``. The windows do not
    overlap, so an epoch sees every code once: shuffled, every epoch starts them at a new
    random phase (0..seq_length-1) and in a new order; unshuffled (validation), they start
    at 0, in order.

    Args:
        codes: one stream of token codes, or a :class:`~helpers.token_store.StoredStream`
            (read from disk, see :func:`stored_windows_dataset`).
        seq_length: steps per window.
        batch_size: windows per batch.
        shuffle: new phase and order every epoch (training).
        seed: seed of the phases, orders and transpositions.
        transpositions: optional ``(k, vocab_size)`` tables of code → code (see
            :func:`helpers.midilike.transposition_table`; ``-1`` entries leave the code as it
            is); each training window is played through one table drawn at random — the data
            augmented by transposition. Only used with ``shuffle``.

    Raises:
        ValueError: too few codes for one window.
    """
    if isinstance(codes, StoredStream):
        return stored_windows_dataset(codes, seq_length, batch_size, shuffle, seed, transpositions)
    tf, stream, n = _stream(codes, seq_length, count_sequence_windows)
    offsets = tf.range(seq_length + 1, dtype=tf.int64)
    if shuffle:
        starts = _shuffled_starts(tf, n, seed, stride=seq_length)
    else:
        starts = tf.data.Dataset.range(n).map(lambda i: i * seq_length)
    tables = None
    if shuffle and transpositions is not None and len(transpositions):
        table_array = np.asarray(transpositions, dtype=np.int32)
        table_array = np.where(table_array < 0, np.arange(table_array.shape[1], dtype=np.int32), table_array)
        tables = tf.constant(table_array)

    def cut(batch_starts):
        spans = tf.gather(stream, batch_starts[:, None] + offsets[None, :])
        if tables is not None:
            key = tf.stack([batch_starts[0], tf.constant(seed + 1, tf.int64)])
            which = tf.random.stateless_uniform(tf.shape(batch_starts), key, maxval=tables.shape[0], dtype=tf.int32)
            spans = tf.gather(tf.gather(tables, which), spans, batch_dims=1)  # window i through table which[i]
        return spans[:, :-1], spans[:, 1:]

    batches = starts.batch(batch_size, drop_remainder=shuffle and n >= batch_size)
    return batches.map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def stored_windows_dataset(
    stream: StoredStream,
    seq_length: int,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    transpositions: np.ndarray | None = None,
    every_step: bool = True,
):
    """The windows of :func:`sequence_windows_dataset` (``every_step``) or :func:`windows_dataset`
    (one target after each window), read from a token store instead of memory.

    The same starts, batches, order and transpositions as the in-memory functions give for
    ``stream.to_array()`` with the same ``seed`` (tested): only the source of the codes
    differs. Each batch reads its ``batch × (seq_length + 1)`` codes from the store's memory
    map in a ``tf.numpy_function``; the stream itself is never loaded, so memory does not grow
    with the data. Pages read stay in the operating system's file cache, which it gives back
    when memory is short.

    Args:
        stream: pieces of a store (:meth:`helpers.token_store.TokenStore.stream`).
        seq_length, batch_size, shuffle, seed, transpositions: as for :func:`sequence_windows_dataset`.
        every_step: a target at every step (the improved recipe), else one after the window.

    Raises:
        DataError: too few codes for one window.
    """
    from helpers import config

    tf = config.import_tensorflow()
    count = count_sequence_windows if every_step else count_windows
    n = count(len(stream), seq_length)
    if n == 0:
        raise DataError(f"{len(stream)} codes give no window of {seq_length}: use more music or a shorter seq_length")
    offsets = np.arange(seq_length + 1, dtype=np.int64)
    stride = seq_length if every_step else 1
    if shuffle:
        starts = _shuffled_starts(tf, n, seed, stride=stride)
    else:
        starts = tf.data.Dataset.range(n).map(lambda i: i * stride)
    tables = None
    if every_step and shuffle and transpositions is not None and len(transpositions):
        table_array = np.asarray(transpositions, dtype=np.int32)
        table_array = np.where(table_array < 0, np.arange(table_array.shape[1], dtype=np.int32), table_array)
        tables = tf.constant(table_array)

    def read(batch_starts):
        return stream.read(batch_starts[:, None] + offsets[None, :])

    def cut(batch_starts):
        spans = tf.numpy_function(read, [batch_starts], tf.int32, stateful=False)
        spans = tf.ensure_shape(spans, [None, seq_length + 1])
        if tables is not None:
            key = tf.stack([batch_starts[0], tf.constant(seed + 1, tf.int64)])
            which = tf.random.stateless_uniform(tf.shape(batch_starts), key, maxval=tables.shape[0], dtype=tf.int32)
            spans = tf.gather(tf.gather(tables, which), spans, batch_dims=1)  # window i through table which[i]
        if every_step:
            return spans[:, :-1], spans[:, 1:]
        return spans[:, :-1], spans[:, -1]

    batches = starts.batch(batch_size, drop_remainder=shuffle and n >= batch_size)
    return batches.map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
