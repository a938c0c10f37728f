"""Is one model better than another? Numbers for the tokens a model predicts and the music it writes.

Explained in notebook 09 (notebook 08 improves the model, 09 judges it). Four kinds of number:

1. **Next-token baselines.** How surprised is a model by the validation pieces, in nats per
   token (cross-entropy with the natural log), perplexity and top-1 accuracy? A trained
   network means something only next to n-gram models that merely count: :class:`NGramModel`,
   :func:`stepper_scores` and :func:`baseline_table` score every one on the same tokens.
2. **Musical metrics** of a notes table (:func:`music_metrics`): pitch-class entropy, repeats,
   range, polyphony, density, rhythm. Entropies of histograms are in bits (log base 2), as
   muspy computes them.
3. **Verdicts**: is a generated piece's metric inside the range that windows of the validation
   pieces of the same length span (:func:`validation_ranges`, :func:`verdicts`)?
4. **Copy check**: how many of the generated piece's 8-event runs occur in the training pieces,
   next to the same share for validation pieces (:func:`copy_check`).

Times are in quarter lengths; notes start together when their onsets round to the same
multiple of 1/12 quarter (:data:`helpers.tokens.ONSET_GRID`), and such an *event* has the token
"sorted tuple of its distinct pitches", whatever encoding made the notes. The musical metrics
follow muspy's definitions, written out here: muspy 0.5.0 (last release 2022) installs next to
NumPy 2, but brings scipy, pypianoroll, miditoolkit and its own ``Music`` class for six
formulas of a few lines each, and has no repeat, run, window or copy measures.

This module never imports TensorFlow: only NumPy, pandas and TF-free helpers.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.errors import MusicGenError
from helpers.generation import MIN_PROBABILITY, Stepper
from helpers.tokens import ONSET_GRID

#: Metrics of :func:`music_metrics`, in order; the first six are :data:`MAIN_METRICS`.
METRICS = (
    "pitch_class_entropy", "distinct_token_ratio", "repeat_share", "pitch_range",
    "polyphony", "notes_per_quarter", "longest_run", "ioi_entropy",
)
MAIN_METRICS = METRICS[:6]
#: Bin edges in quarter lengths for durations and inter-onset intervals (IOIs), bins
#: ``[low, high)``. Each bin holds one common value (1/6, 1/4, 1/3, 1/2, 2/3, 1, 1.5, 2, 3, 4)
#: and reaches half-way to its neighbours; the first holds 0 and 1/12, the last 5 and more.
DURATION_BINS = (0.0, 1 / 8, 5 / 24, 7 / 24, 5 / 12, 7 / 12, 5 / 6, 1.25, 1.75, 2.5, 3.5, 5.0, math.inf)
IOI_BINS = DURATION_BINS
#: One label per bin: the value it is built around.
BIN_LABELS = ("<1/8", "1/6", "1/4", "1/3", "1/2", "2/3", "1", "1.5", "2", "3", "4", "≥5")


class EvaluationError(MusicGenError, ValueError):
    """Input that cannot be evaluated: an empty table, a missing column, a code out of range."""


# ----------------------------------------------------------------------------- 1. next-token baselines


@dataclass(frozen=True, eq=False)
class Scores:
    """Per scored token: ``log_prob`` (ln p of the true next code) and ``top1`` (it was the argmax)."""

    log_prob: np.ndarray
    top1: np.ndarray

    @property
    def tokens(self) -> int:
        return int(len(self.log_prob))

    @property
    def cross_entropy(self) -> float:
        """Mean of ``-log_prob``, nats per token."""
        return float(-self.log_prob.mean()) if self.tokens else math.nan

    @property
    def perplexity(self) -> float:
        """``exp(cross_entropy)``: as unsure as a fair choice among this many codes."""
        return math.exp(self.cross_entropy)

    @property
    def accuracy(self) -> float:
        """Share of tokens where the likeliest code was the true one (ties: the lowest code)."""
        return float(self.top1.mean()) if self.tokens else math.nan


def _check_codes(codes: Sequence[int], vocab_size: int, what: str) -> np.ndarray:
    """Codes → a 1-D int64 array; every code must lie in 0..vocab_size-1."""
    codes = np.asarray(codes) if len(codes) else np.zeros(0, np.int64)
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise EvaluationError(f"{what}: expected a 1-D sequence of integer codes, got {codes.dtype} {codes.shape}")
    bad = codes[(codes < 0) | (codes >= vocab_size)]
    if bad.size:
        raise EvaluationError(f"{what}: code {int(bad[0])} is outside 0..{vocab_size - 1} (vocab_size={vocab_size})")
    return codes.astype(np.int64)


def _check_pieces(pieces: Iterable[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    return [_check_codes(piece, vocab_size, f"piece {i}") for i, piece in enumerate(pieces)]


class NGramModel:
    """Predicts the next code from the ``order - 1`` codes before it, by counting.

    Smoothing: order 1 is the add-k unigram ``(count(w) + 0.5) / (N + 0.5 V)``. Orders >= 2 are
    interpolated Kneser-Ney: ``p(w | h) = max(c(h w) - D, 0) / c(h) + D · types(h) / c(h) ·
    p_lower(w | h minus its first code)`` with the absolute discount ``D``; the highest order
    counts occurrences, the lower orders *continuation counts* (how many distinct codes came
    before the n-gram); the lowest order is interpolated with the uniform ``1/V``, so that every
    code gets a probability > 0, seen in training or not. An unseen context falls back on the
    lower orders. At a piece's start the context is padded with a start symbol; training counts
    every position of a piece, :meth:`score` scores positions 1.. (as a network needs one code).

    >>> NGramModel(2, vocab_size=3).fit([[0, 1, 2, 0, 1, 2]]).distribution((0,)).round(3).tolist()
    [0.188, 0.719, 0.094]
    """

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"order={order}: must be at least 1")
        if not 0 < discount <= 1:
            raise ValueError(f"discount={discount}: must be in (0, 1]")
        self.order, self.vocab_size, self.discount = int(order), int(vocab_size), float(discount)
        self.start = self.vocab_size  # the start symbol, one more than the last code
        self.base = self.vocab_size + 1  # n-grams are numbers written in this base
        if self.base ** self.order >= 2**62:
            raise ValueError(f"order={order} is too high for vocab_size={vocab_size}")
        self.fit([])

    def _grams(self, pieces: list[np.ndarray], k: int, first: int) -> tuple[np.ndarray, np.ndarray]:
        """(context keys, next codes) of the k-grams ending at positions first.. of every piece."""
        keys, nexts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for codes in pieces:
            padded = np.concatenate([np.full(k - 1, self.start, np.int64), codes])
            windows = np.lib.stride_tricks.sliding_window_view(padded, k)[first:]
            keys.append(windows[:, :-1] @ self.base ** np.arange(k - 2, -1, -1, dtype=np.int64))
            nexts.append(windows[:, -1])
        return np.concatenate(keys), np.concatenate(nexts)

    def fit(self, pieces: Iterable[Sequence[int]]) -> NGramModel:
        """Count the codes of ``pieces`` (a list of 1-D code sequences); returns ``self``."""
        pieces = _check_pieces(pieces, self.vocab_size)
        n, V = self.order, self.vocab_size
        self._cache: list[dict[int, np.ndarray]] = [{} for _ in range(n + 1)]
        contexts, nexts = self._grams(pieces, n, 0)
        if n == 1:
            counts = np.bincount(nexts, minlength=V)
            self._lowest = (counts + 0.5) / (counts.sum() + 0.5 * V)
            self._lowest.setflags(write=False)
            return self
        grams, counts = np.unique(contexts * self.base + nexts, return_counts=True)
        self._tables: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        for k in range(n, 1, -1):  # k-grams: counts, then the continuation counts of (k-1)-grams
            keys, codes = grams // self.base, grams % self.base  # sorted by context, as grams are
            cuts = np.flatnonzero(np.diff(keys)) + 1
            self._tables[k] = {
                int(key[0]): (c, w.astype(np.float64))
                for key, c, w in zip(np.split(keys, cuts), np.split(codes, cuts), np.split(counts, cuts))
                if key.size
            }
            grams, counts = np.unique(grams % self.base ** (k - 1), return_counts=True)
        continuation = np.bincount(grams, weights=counts, minlength=V)[:V]  # distinct codes before w
        total, seen = continuation.sum(), np.count_nonzero(continuation)
        if total == 0:
            self._lowest = np.full(V, 1.0 / V)
        else:
            d = self.discount
            self._lowest = np.maximum(continuation - d, 0) / total + d * seen / total / V
        self._lowest.setflags(write=False)
        return self

    def _distribution(self, k: int, key: int) -> np.ndarray:
        """p(· | context), the context being ``key`` (k - 1 codes in base ``self.base``)."""
        if k == 1:
            return self._lowest
        cached = self._cache[k].get(key)
        if cached is not None:
            return cached
        lower = self._distribution(k - 1, key % self.base ** (k - 2))
        entry = self._tables[k].get(key)
        if entry is None:
            p = lower
        else:
            codes, counts = entry
            total = counts.sum()
            p = lower * (self.discount * len(codes) / total)
            p[codes] += (counts - self.discount) / total
            p.setflags(write=False)
        self._cache[k][key] = p
        return p

    def distribution(self, context: tuple[int, ...] = ()) -> np.ndarray:
        """Probabilities ``(V,)`` of the next code after ``context`` (its last order-1 codes count).

        A context shorter than ``order - 1`` is read as the start of a piece.
        """
        context = tuple(context)[max(0, len(context) - self.order + 1) :] if self.order > 1 else ()
        codes = _check_codes(context, self.vocab_size, "context")
        padded = [self.start] * (self.order - 1 - len(codes)) + codes.tolist()
        key = sum(c * self.base**i for i, c in enumerate(reversed(padded)))
        return self._distribution(self.order, key).copy()

    def score(self, pieces: Iterable[Sequence[int]]) -> Scores:
        """Score positions 1..L-1 of every piece (context from the same piece only)."""
        pieces = _check_pieces(pieces, self.vocab_size)
        keys, nexts = self._grams(pieces, self.order, 1)
        if self.order == 1:
            p = self._lowest
            return Scores(np.log(p[nexts]), nexts == p.argmax())
        distinct, inverse = np.unique(keys, return_inverse=True)
        table = np.stack([self._distribution(self.order, int(k)) for k in distinct] or [np.ones(1)])
        return Scores(np.log(table[inverse, nexts]), table.argmax(axis=1)[inverse] == nexts)


def stepper_scores(stepper: Stepper, pieces: Iterable[Sequence[int]]) -> Scores:
    """Score a trained model (as a :class:`helpers.generation.Stepper`) on the same tokens as :class:`NGramModel`.

    Each piece is fed from position 0 with its state carried; after code t the probability of
    code t+1 is scored. All pieces run side by side, longest first; a piece drops out of the
    batch when it ends. Probabilities are clipped to at least ``MIN_PROBABILITY`` (1e-30)
    before the log, since a float32 softmax can round to exactly 0.
    """
    pieces = _check_pieces(pieces, stepper.width)
    order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i]))
    lengths = np.array([len(pieces[i]) for i in order], dtype=np.int64)
    codes = np.zeros((len(order), int(lengths.max(initial=0))), dtype=np.int64)
    for row, i in enumerate(order):
        codes[row, : lengths[row]] = pieces[i]
    log_prob = np.zeros(codes.shape)
    top1 = np.zeros(codes.shape, dtype=bool)
    states = stepper.initial_states(len(order))
    for t in range(codes.shape[1] - 1):
        active = int(np.count_nonzero(lengths > t + 1))  # pieces still with a next code: a prefix
        states = [s[..., :active, :] for s in states]
        probs, states = stepper.step(codes[:active, t], states)
        probs = probs.astype(np.float64)
        truth = codes[:active, t + 1]
        log_prob[:active, t + 1] = np.log(np.maximum(probs[np.arange(active), truth], MIN_PROBABILITY))
        top1[:active, t + 1] = probs.argmax(axis=1) == truth
    positions = np.arange(codes.shape[1])
    scored = (positions >= 1) & (positions < lengths[:, None])  # (pieces, steps), longest first
    back = np.argsort(order)  # rows in the pieces' own order
    return Scores(log_prob[back][scored[back]], top1[back][scored[back]])


def baseline_table(
    train_pieces: Sequence[Sequence[int]],
    val_pieces: Sequence[Sequence[int]],
    vocab_size: int,
    models: dict[str, Scores] | None = None,
) -> pd.DataFrame:
    """Unigram, bigram and trigram (fitted on ``train_pieces``) and ``models``, all scored on ``val_pieces``.

    Returns:
        One row per model with ``nats_per_token``, ``perplexity``, ``top1_accuracy``, ``tokens``
        and ``vs_best_ngram`` (nats / the best n-gram's nats - 1: -0.12 is 12 % below it).
    """
    scores = {
        name: NGramModel(order, vocab_size).fit(train_pieces).score(val_pieces)
        for order, name in [(1, "unigram"), (2, "bigram"), (3, "trigram")]
    }
    for name, model_scores in (models or {}).items():
        if name in scores:
            raise EvaluationError(f"model name {name!r} is taken by an n-gram row: choose another")
        if model_scores.tokens != scores["unigram"].tokens:
            raise EvaluationError(
                f"model {name!r} was scored on {model_scores.tokens} tokens, the n-grams on "
                f"{scores['unigram'].tokens}: score it with stepper_scores on the same val_pieces"
            )
        scores[name] = model_scores
    table = pd.DataFrame(
        {
            "nats_per_token": [s.cross_entropy for s in scores.values()],
            "perplexity": [s.perplexity for s in scores.values()],
            "top1_accuracy": [s.accuracy for s in scores.values()],
            "tokens": [s.tokens for s in scores.values()],
        },
        index=pd.Index(list(scores), name="model"),
    )
    best = table.loc[["unigram", "bigram", "trigram"], "nats_per_token"].min()
    table["vs_best_ngram"] = table["nats_per_token"] / best - 1
    return table


# ----------------------------------------------------------------------------- 2. musical metrics


def _events(notes: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Events of a notes table, and each note's event number (rows as in ``notes``).

    Events: columns ``piece``, ``slot`` (onset in 1/12 quarters), ``token`` (sorted tuple of
    distinct pitches) and ``token_id`` (one int per distinct token), pieces in order of
    appearance, events by onset.
    """
    missing = [c for c in ("offset", "duration", "pitch") if c not in notes.columns]
    if missing:
        raise EvaluationError(f"the notes table lacks the column(s) {', '.join(missing)}")
    if notes.empty:
        raise EvaluationError("the notes table is empty: there is nothing to measure")
    piece = notes["piece"].to_numpy() if "piece" in notes.columns else np.full(len(notes), "")
    piece_index, pieces = pd.factorize(piece)
    slot = np.round(notes["offset"].to_numpy(np.float64) * ONSET_GRID).astype(np.int64)
    pitch = notes["pitch"].to_numpy(np.int64)
    if pitch.min() < 0 or pitch.max() > 127:
        raise EvaluationError(f"pitches must lie in 0..127, got {pitch.min()}..{pitch.max()}")
    low, width = slot.min(), slot.max() - slot.min() + 1
    event_keys, note_event = np.unique(piece_index * width + slot - low, return_inverse=True)
    pairs = _distinct(note_event * 128 + pitch)  # (event, pitch) pairs, sorted
    cuts = np.flatnonzero(np.diff(pairs // 128)) + 1
    tokens = [tuple(group.tolist()) for group in np.split(pairs % 128, cuts)]
    ids: dict[tuple, int] = {}
    events = pd.DataFrame(
        {
            "piece": pieces[event_keys // width],
            "slot": event_keys % width + low,
            "token": tokens,
            "token_id": [ids.setdefault(token, len(ids)) for token in tokens],
        }
    )
    return events, note_event


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (NumPy 2.4's plain ``np.unique`` hashes, several times slower)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if values.size else values


def _same_piece_pairs(events: pd.DataFrame) -> np.ndarray:
    """True at event i (i >= 1) when event i-1 belongs to the same piece."""
    piece = events["piece"].to_numpy()
    return np.concatenate([[False], piece[1:] == piece[:-1]])


def _entropy_bits(counts: np.ndarray) -> float:
    shares = counts[counts > 0] / counts.sum() if counts.sum() else np.zeros(0)
    return float(-(shares * np.log2(shares)).sum()) + 0.0 if shares.size else math.nan  # + 0.0: no "-0.0"


def _bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right") - 1, minlength=len(edges) - 1)


def _iois(events: pd.DataFrame) -> np.ndarray:
    """Inter-onset intervals between consecutive events of one piece, quarter lengths."""
    follows = _same_piece_pairs(events)
    return np.diff(events["slot"].to_numpy(), prepend=0)[follows] / ONSET_GRID


def _polyphony(notes: pd.DataFrame, piece_index: np.ndarray) -> float:
    """Mean number of distinct pitches sounding, over the 1/12-quarter steps where any sounds."""
    start = np.round(notes["offset"].to_numpy(np.float64) * ONSET_GRID).astype(np.int64)
    end = np.round((notes["offset"] + notes["duration"]).to_numpy(np.float64) * ONSET_GRID).astype(np.int64)
    steps = np.maximum(end - start, 1)  # a 0-duration note sounds for one step
    # One entry per note and step it sounds in: start, start + 1, ..., start + steps - 1.
    within = np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)
    step = np.repeat(start - start.min(), steps) + within
    pitch = np.repeat(notes["pitch"].to_numpy(np.int64), steps)
    sounding = _distinct((np.repeat(piece_index, steps) * (step.max() + 1) + step) * 128 + pitch)  # one number each
    return len(sounding) / len(_distinct(sounding // 128))  # (piece, step, pitch) pairs / (piece, step) pairs


def music_metrics(notes: pd.DataFrame) -> pd.Series:
    """The musical metrics of a notes table (times in quarter lengths), in the order of :data:`METRICS`.

    - ``pitch_class_entropy``: bits, of the histogram of ``pitch % 12`` over notes (0..log2 12).
    - ``distinct_token_ratio``: distinct event tokens / events.
    - ``repeat_share``: share of events 2..n whose token equals the previous event's.
    - ``pitch_range``: highest - lowest pitch, semitones.
    - ``polyphony``: mean number of distinct pitches sounding, over the 1/12-quarter steps where
      at least one sounds (a note sounds on [offset, offset + duration), at least one step).
    - ``notes_per_quarter``: notes / (latest note end - earliest onset); NaN if that is 0.
    - ``longest_run``: most events in a row with one token.
    - ``ioi_entropy``: bits, of the histogram of inter-onset intervals in :data:`IOI_BINS`.

    Several pieces (a ``piece`` column) count as one collection: histograms pool their notes,
    runs and intervals stay inside a piece, time spans add up. Quantities with no instance
    (the IOIs of one event) are NaN.

    >>> float(music_metrics(pd.DataFrame({"offset": [0.0, 1.0], "duration": 1.0, "pitch": [60, 64]}))["pitch_range"])
    4.0
    """
    events, _ = _events(notes)
    pitch = notes["pitch"].to_numpy(np.int64)
    follows = _same_piece_pairs(events)
    token_id = events["token_id"].to_numpy()
    repeats = follows & (token_id == np.roll(token_id, 1))
    run_start = np.flatnonzero(~repeats)
    runs = np.diff(np.append(run_start, len(events)))
    piece_index = pd.factorize(notes["piece"].to_numpy() if "piece" in notes.columns else np.zeros(len(notes)))[0]
    ends = (notes["offset"] + notes["duration"]).groupby(piece_index).max()
    span = float((ends - notes["offset"].groupby(piece_index).min()).sum())
    values = {
        "pitch_class_entropy": _entropy_bits(np.bincount(pitch % 12, minlength=12)),
        "distinct_token_ratio": (token_id.max() + 1) / len(events),  # ids count from 0
        "repeat_share": repeats.sum() / follows.sum() if follows.any() else math.nan,
        "pitch_range": pitch.max() - pitch.min(),
        "polyphony": _polyphony(notes, piece_index),
        "notes_per_quarter": len(notes) / span if span > 0 else math.nan,
        "longest_run": runs.max(),
        "ioi_entropy": _entropy_bits(_bin_counts(_iois(events), IOI_BINS)),
    }
    return pd.Series(values, dtype=np.float64, name="value")


def rhythm_histograms(notes: pd.DataFrame) -> pd.DataFrame:
    """Share of note durations and of inter-onset intervals per bin of :data:`DURATION_BINS`.

    Returns:
        Columns ``duration`` and ``ioi`` (each sums to 1; ``ioi`` is NaN with one event only),
        index :data:`BIN_LABELS`.
    """
    events, _ = _events(notes)
    durations = _bin_counts(notes["duration"].to_numpy(np.float64), DURATION_BINS)
    iois = _bin_counts(_iois(events), IOI_BINS)
    with np.errstate(invalid="ignore"):
        table = {"duration": durations / durations.sum(), "ioi": iois / iois.sum()}
    return pd.DataFrame(table, index=pd.Index(BIN_LABELS, name="quarter_lengths"))


def metrics_table(named: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`music_metrics` of each named notes table, one row per name."""
    return pd.DataFrame({name: music_metrics(notes) for name, notes in named.items()}).T.rename_axis("notes")


# ----------------------------------------------------------------------------- 3. verdicts


def event_windows(notes: pd.DataFrame, n_events: int) -> list[pd.DataFrame]:
    """Cut each piece into consecutive windows of ``n_events`` events (an event's notes stay together).

    A piece of fewer than ``n_events`` events is one window; a trailing part of at least
    ``n_events / 2`` events is a window of its own, a shorter one is dropped.
    """
    if n_events < 1:
        raise ValueError(f"n_events={n_events}: must be at least 1")
    events, note_event = _events(notes)
    piece_start = events.groupby("piece", sort=False).cumcount().to_numpy()
    sizes = events.groupby("piece", sort=False)["slot"].transform("size").to_numpy()
    window = piece_start // n_events
    full = sizes // n_events
    short_tail = (window >= full) & (sizes % n_events < n_events / 2) & (sizes >= n_events)
    keep = ~short_tail
    event_window = pd.factorize(events["piece"])[0] * (window.max() + 1) + window  # sorted like events
    note_window = np.where(keep[note_event], event_window[note_event], -1)
    return [group.reset_index(drop=True) for w, group in notes.groupby(note_window, sort=True) if w >= 0]


def validation_ranges(val_notes: pd.DataFrame, n_events: int, metrics: Sequence[str] = MAIN_METRICS) -> pd.DataFrame:
    """How far each metric ranges over the validation pieces cut into windows of ``n_events`` events.

    Returns:
        One row per metric: ``low`` (min over windows), ``median``, ``high`` (max) and
        ``windows`` (how many windows gave a value).
    """
    per_window = pd.DataFrame([music_metrics(w) for w in event_windows(val_notes, n_events)])[list(metrics)]
    ranges = per_window.agg(["min", "median", "max", "count"]).T
    ranges.columns = ["low", "median", "high", "windows"]
    return ranges.astype({"windows": int}).rename_axis("metric")


def verdicts(values: pd.Series | pd.DataFrame, ranges: pd.DataFrame) -> pd.DataFrame:
    """Is each metric inside the validation range (``low <= value <= high``)?

    Args:
        values: one piece's metrics (a Series), or several pieces' (one row per piece).
        ranges: from :func:`validation_ranges`.

    Returns:
        One row per metric of ``ranges``: ``value`` (for several pieces their mean), ``low``,
        ``median``, ``high``, ``inside`` and, for several pieces, ``share_inside``.
    """
    metrics = list(ranges.index)
    missing = [m for m in metrics if m not in (values.columns if isinstance(values, pd.DataFrame) else values.index)]
    if missing:
        raise EvaluationError(f"the values lack the metric(s) {', '.join(missing)}")
    low, high = ranges["low"], ranges["high"]
    table = pd.DataFrame(index=pd.Index(metrics, name="metric"))
    table["value"] = values[metrics].mean() if isinstance(values, pd.DataFrame) else values[metrics].astype(float)
    table[["low", "median", "high"]] = ranges[["low", "median", "high"]]
    table["inside"] = (low <= table["value"]) & (table["value"] <= high)
    if isinstance(values, pd.DataFrame):
        table["share_inside"] = ((values[metrics] >= low) & (values[metrics] <= high)).mean()
    return table


# ----------------------------------------------------------------------------- 4. copy check


def _ngram_set(pieces: Iterable[Sequence[Hashable]], n: int) -> set[tuple]:
    return {tuple(piece[i : i + n]) for piece in pieces for i in range(len(piece) - n + 1)}


def _copy_rate(tokens: Sequence[Hashable], known: set[tuple], n: int) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return sum(gram in known for gram in grams) / len(grams) if grams else math.nan


def ngram_copy_rate(tokens: Sequence[Hashable], reference_pieces: Iterable[Sequence[Hashable]], n: int = 8) -> float:
    """Share of the n-grams of ``tokens`` that occur inside one of ``reference_pieces``; NaN if too short.

    >>> ngram_copy_rate("abcd", ["xabcx"], n=3)
    0.5
    """
    return _copy_rate(list(tokens), _ngram_set([list(p) for p in reference_pieces], n), n)


def event_tokens(notes: pd.DataFrame) -> dict[str, list[tuple]]:
    """Event tokens (sorted tuples of pitches) per piece; one piece named ``""`` without a ``piece`` column."""
    events, _ = _events(notes)
    return {piece: group.tolist() for piece, group in events.groupby("piece", sort=False)["token"]}


def copy_check(
    generated_notes: pd.DataFrame, train_notes: pd.DataFrame, val_notes: pd.DataFrame, n: int = 8
) -> pd.Series:
    """Mean n-gram copy rate of generated pieces and of validation pieces, both against the training pieces.

    Validation pieces are new music: their rate is what honest re-use of common figures
    looks like. A generated rate far above it means the model replays its training pieces.
    """
    known = _ngram_set(event_tokens(train_notes).values(), n)
    rates = {
        name: np.array([_copy_rate(tokens, known, n) for tokens in event_tokens(table).values()])
        for name, table in [("generated", generated_notes), ("validation", val_notes)]
    }
    means = {name: float(np.nanmean(r)) if np.isfinite(r).any() else math.nan for name, r in rates.items()}
    return pd.Series({**means, "n": float(n)}, name="copy_rate")
