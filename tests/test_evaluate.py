"""Tests of helpers.evaluate: n-gram baselines, model scores, musical metrics, verdicts, copy check.

Every expected number is worked out by hand in the test (the formula is written next to it).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import evaluate

ROOT = Path(__file__).resolve().parents[1]
D = 0.75  # the Kneser-Ney discount


def notes_table(rows, piece=None) -> pd.DataFrame:
    """(pitch, offset, duration) rows → a notes table, optionally with a piece column."""
    table = pd.DataFrame(rows, columns=["pitch", "offset", "duration"]).astype({"offset": float, "duration": float})
    if piece is not None:
        table.insert(0, "piece", piece)
    return table


SCALE = notes_table([(p, float(i), 1.0) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71])])  # C4..B4


# ----------------------------------------------------------------------------- n-gram models


def test_unigram_is_add_half_over_the_vocabulary():
    model = evaluate.NGramModel(1, vocab_size=3).fit([[0, 0, 1]])
    # (count + 0.5) / (3 tokens + 0.5 * 3 codes): (2.5, 1.5, 0.5) / 4.5
    expected = np.array([2.5, 1.5, 0.5]) / 4.5
    assert np.allclose(model.distribution(), expected)
    scores = model.score([[1, 0, 2]])  # positions 1 and 2: codes 0 and 2
    assert scores.tokens == 2
    assert np.allclose(scores.log_prob, np.log([2.5 / 4.5, 0.5 / 4.5]))
    assert scores.top1.tolist() == [True, False]
    assert scores.cross_entropy == pytest.approx(-(math.log(2.5 / 4.5) + math.log(0.5 / 4.5)) / 2)
    assert scores.perplexity == pytest.approx(math.exp(scores.cross_entropy))
    assert scores.accuracy == 0.5


def test_bigram_learns_a_deterministic_cycle():
    cycle = [[0, 1, 2] * 30]
    unigram = evaluate.NGramModel(1, 3).fit(cycle).score([[2, 0, 1, 2, 0, 1]])
    bigram = evaluate.NGramModel(2, 3).fit(cycle).score([[2, 0, 1, 2, 0, 1]])
    assert bigram.accuracy == 1.0
    assert unigram.cross_entropy > 1.0  # about ln 3 = 1.10: the codes are equally common
    assert bigram.cross_entropy < 0.05


def test_kneser_ney_bigram_by_hand():
    model = evaluate.NGramModel(2, vocab_size=3, discount=D).fit([[0, 1, 0, 1]])
    # Bigrams with the start symbol S: (S,0) (0,1) (1,0) (0,1). Continuation counts N(.w):
    # code 0 follows S and 1 (2), code 1 follows 0 (1), code 2 never (0); 3 bigram types, 2 codes seen.
    # p1(w) = max(N(.w) - D, 0) / 3 + D * 2 / 3 * 1/3
    p1 = np.array([(2 - D) / 3, (1 - D) / 3, 0.0]) + D * 2 / 3 / 3
    assert np.allclose(p1, [1.75 / 3, 0.75 / 3, 0.5 / 3])
    # After 0: c(0,1) = 2, one type: p(w|0) = max(c - D, 0) / 2 + D * 1 / 2 * p1(w)
    after_0 = np.array([0.0, (2 - D) / 2, 0.0]) + D / 2 * p1
    assert np.allclose(model.distribution((0,)), after_0)
    assert np.allclose(model.distribution((0,)), [0.21875, 0.71875, 0.0625])
    # At the start of a piece: c(S,0) = 1: p(w|S) = max(c - D, 0) / 1 + D * p1(w)
    assert np.allclose(model.distribution(()), np.array([1 - D, 0, 0]) + D * p1)
    assert np.allclose(model.distribution((2,)), p1)  # a context never seen: the lower order alone


def test_kneser_ney_trigram_by_hand():
    model = evaluate.NGramModel(3, vocab_size=3, discount=D).fit([[0, 1, 0, 1]])
    # Trigrams: (S,S,0) (S,0,1) (0,1,0) (1,0,1); bigram continuation counts: (1,0) once (0 before it).
    # p2(0|1) = (1 - D) / 1 + D * 1 / 1 * p1(0) with p1(0) = 1.75 / 3 (as for the bigram above)
    p2_0_after_1 = (1 - D) + D * 1.75 / 3
    # p3(0|0,1) = (c(0,1,0) - D) / c(0,1,.) + D * 1 / 1 * p2(0|1), with c = 1
    assert model.distribution((0, 1))[0] == pytest.approx((1 - D) + D * p2_0_after_1)
    assert model.distribution((0, 1))[0] == pytest.approx(0.765625)
    # An unseen context (2, 0) falls back on p2(.|0) from continuation counts: (0,1) follows S and 1 (2)
    p1 = np.array([1.75, 0.75, 0.5]) / 3
    assert np.allclose(model.distribution((2, 0)), np.array([0, (2 - D) / 2, 0]) + D / 2 * p1)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_distributions_sum_to_one_and_are_positive_for_unseen_contexts_and_codes(order):
    rng = np.random.default_rng(order)
    train = [rng.integers(0, 5, size=40) for _ in range(3)]  # codes 5..9 are never seen
    model = evaluate.NGramModel(order, vocab_size=10).fit(train)
    for context in [(), (1,), (0, 1, 2), (9, 8, 7), (7, 1, 3)]:
        p = model.distribution(context)
        assert p.shape == (10,)
        assert p.sum() == pytest.approx(1.0)
        assert (p > 0).all()
    scores = model.score([[0, 9, 8, 9, 1], [7]])  # unseen codes in held-out music: no error, no -inf
    assert scores.tokens == 4  # a piece of length L gives L - 1 tokens
    assert np.isfinite(scores.log_prob).all()


def test_contexts_do_not_cross_pieces():
    a, b = [0, 1, 2, 0, 1, 2, 3], [3, 3, 2, 1]
    model = evaluate.NGramModel(3, 4).fit([a, b, [2, 2, 0, 3]])
    both, reversed_order = model.score([a, b]), model.score([b, a])
    assert both.tokens == len(a) - 1 + len(b) - 1
    assert np.allclose(both.log_prob, np.concatenate([model.score([a]).log_prob, model.score([b]).log_prob]))
    assert both.cross_entropy == pytest.approx(reversed_order.cross_entropy)
    glued = model.score([a + b])  # one piece: b's first codes would see a's last ones
    assert glued.tokens == both.tokens + 1
    refit = evaluate.NGramModel(3, 4).fit([[2, 2, 0, 3], b, a])
    assert np.allclose(refit.score([a, b]).log_prob, both.log_prob)


def test_codes_outside_the_vocabulary_raise():
    with pytest.raises(ValueError, match="code 3"):
        evaluate.NGramModel(2, 3).fit([[0, 1], [2, 3]])
    model = evaluate.NGramModel(2, 3).fit([[0, 1, 2]])
    with pytest.raises(ValueError, match="code -1"):
        model.score([[0, -1]])
    with pytest.raises(ValueError, match="code 7"):
        model.distribution((7,))


def test_ngram_model_is_fast_enough():
    rng = np.random.default_rng(0)
    train = [rng.integers(0, 300, size=1000) for _ in range(100)]
    val = [rng.integers(0, 300, size=1000) for _ in range(20)]
    start = time.perf_counter()
    scores = evaluate.NGramModel(3, 300).fit(train).score(val)
    assert scores.tokens == 20 * 999
    assert time.perf_counter() - start < 5.0


# ----------------------------------------------------------------------------- a trained model


@pytest.mark.parametrize("build", ["build_gru_model", "build_lstm_model"])
def test_stepper_scores_match_keras_predict(build):
    from helpers import generation, models

    model = getattr(models, build)(vocab_size=5, seq_length=None, units=(4, 6), dense_units=3,
                                   input_encoding="embedding", embedding_dim=3)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.8, size=w.shape).astype(np.float32) for w in model.get_weights()])
    pieces = [np.array([0, 3, 1, 4, 4, 2]), np.array([2, 0, 1]), np.array([3])]
    scores = evaluate.stepper_scores(generation.Stepper(model), pieces)
    expected, best = [], []
    for piece in pieces:
        for t in range(1, len(piece)):  # the probability of code t after codes 0..t-1
            probs = model.predict(piece[None, :t], verbose=0)[0]
            expected.append(math.log(probs[piece[t]]))
            best.append(probs.argmax() == piece[t])
    assert scores.tokens == 5 + 2 + 0
    assert np.allclose(scores.log_prob, expected, atol=1e-4)
    assert scores.top1.tolist() == best


def test_baseline_table_rows_and_comparison():
    train, val = [[0, 1, 2] * 20, [1, 2, 0] * 10], [[0, 1, 2, 0, 1, 2, 0], [2, 0, 1]]
    perfect = evaluate.Scores(np.zeros(8), np.ones(8, dtype=bool))  # 6 + 2 scored tokens, p = 1
    table = evaluate.baseline_table(train, val, vocab_size=3, models={"perfect": perfect})
    assert table.index.tolist() == ["unigram", "bigram", "trigram", "perfect"]
    assert table.columns.tolist() == ["nats_per_token", "perplexity", "top1_accuracy", "tokens", "vs_best_ngram"]
    assert (table["tokens"] == 8).all()
    best = table.loc[["unigram", "bigram", "trigram"], "nats_per_token"].min()
    assert table["vs_best_ngram"].min() == pytest.approx(-1.0)  # 0 nats: 100 % below the best n-gram
    assert table.loc["unigram", "vs_best_ngram"] == pytest.approx(table.loc["unigram", "nats_per_token"] / best - 1)
    assert table.loc["unigram", "vs_best_ngram"] > 1  # the cycle is nearly certain for the bigram
    assert table.loc["perfect", "perplexity"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="7 tokens"):
        evaluate.baseline_table(train, val, 3, models={"other": evaluate.Scores(np.zeros(7), np.ones(7, bool))})


# ----------------------------------------------------------------------------- musical metrics


def test_metrics_of_a_scale():
    metrics = evaluate.music_metrics(SCALE)
    assert metrics.index.tolist() == list(evaluate.METRICS)
    assert evaluate.MAIN_METRICS == evaluate.METRICS[:6]
    assert metrics["pitch_class_entropy"] == pytest.approx(math.log2(7))  # 7 classes, once each
    assert metrics["distinct_token_ratio"] == 1.0
    assert metrics["repeat_share"] == 0.0
    assert metrics["pitch_range"] == 11  # C4 → B4
    assert metrics["polyphony"] == 1.0
    assert metrics["notes_per_quarter"] == 1.0  # 7 notes over 0 → 7
    assert metrics["longest_run"] == 1
    assert metrics["ioi_entropy"] == 0.0  # every interval is one quarter


def test_repeated_notes():
    metrics = evaluate.music_metrics(notes_table([(60, 0, 1), (60, 1, 1), (60, 2, 1), (62, 3, 0.5), (60, 3.5, 0.5)]))
    assert metrics["repeat_share"] == pytest.approx(2 / 4)  # events 2..5: the 2nd and 3rd repeat
    assert metrics["longest_run"] == 3
    assert metrics["distinct_token_ratio"] == pytest.approx(2 / 5)
    assert metrics["pitch_class_entropy"] == pytest.approx(-(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2)))
    assert metrics["ioi_entropy"] == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))


def test_a_chord_and_overlapping_notes():
    chord = evaluate.music_metrics(notes_table([(60, 0, 2), (64, 0, 2), (67, 0, 2)]))
    assert chord["polyphony"] == 3.0
    assert chord["notes_per_quarter"] == 1.5  # 3 notes in 2 quarters
    assert chord["pitch_range"] == 7
    assert math.isnan(chord["repeat_share"]) and math.isnan(chord["ioi_entropy"])  # one event only
    overlap = evaluate.music_metrics(notes_table([(60, 0, 2), (64, 1, 1), (60, 4, 1)]))
    # steps of 1/12 quarter: 12 with one pitch, 12 with two, 12 with one (after a silence)
    assert overlap["polyphony"] == pytest.approx((12 + 24 + 12) / 36)
    assert overlap["notes_per_quarter"] == pytest.approx(3 / 5)
    unison = evaluate.music_metrics(notes_table([(60, 0, 1), (60, 0, 1)]))
    assert unison["polyphony"] == 1.0  # distinct pitches: a doubled note counts once


def test_zero_duration_notes():
    metrics = evaluate.music_metrics(notes_table([(60, 0, 0), (62, 1, 0), (64, 1, 0)]))
    assert metrics["polyphony"] == pytest.approx((1 + 2) / 2)  # each sounds for one step
    assert metrics["notes_per_quarter"] == 3.0  # latest end 1 - earliest onset 0
    assert math.isnan(evaluate.music_metrics(notes_table([(60, 0, 0)]))["notes_per_quarter"])


def test_runs_and_repeats_stay_inside_pieces():
    notes = notes_table([(60, 0, 1), (62, 1, 1), (62, 0, 1), (60, 1, 1)], piece=["a", "a", "b", "b"])
    metrics = evaluate.music_metrics(notes)
    assert metrics["repeat_share"] == 0.0  # a ends on 62, b starts on 62: not a repeat
    assert metrics["longest_run"] == 1
    assert metrics["notes_per_quarter"] == 1.0  # 4 notes over 2 + 2 quarters


def test_empty_or_incomplete_tables_raise():
    with pytest.raises(ValueError, match="empty"):
        evaluate.music_metrics(SCALE.iloc[:0])
    with pytest.raises(ValueError, match="duration"):
        evaluate.music_metrics(SCALE.drop(columns="duration"))


def test_rhythm_histograms():
    notes = notes_table([(60, 0, 0.25), (62, 0.25, 0.25), (64, 0.5, 0.5), (65, 1, 1 / 3), (67, 4 / 3, 0)])
    table = evaluate.rhythm_histograms(notes)
    assert table.index.tolist() == list(evaluate.BIN_LABELS)
    assert np.allclose(table.sum(), 1.0)
    assert table.loc["1/4", "duration"] == pytest.approx(2 / 5)
    assert table.loc["<1/8", "duration"] == pytest.approx(1 / 5)  # the 0-duration note
    assert table.loc["1/4", "ioi"] == pytest.approx(2 / 4)  # IOIs: 1/4, 1/4, 1/2, 1/3
    assert table.loc["1/3", "ioi"] == pytest.approx(1 / 4)
    edges = np.array(evaluate.IOI_BINS)
    for value in [1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1, 1.5, 2, 3, 4]:  # one common value per bin
        assert ((edges[:-1] <= value) & (value < edges[1:])).sum() == 1
    assert len({int(np.searchsorted(edges, v, side="right")) for v in [1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1]}) == 6


def test_metrics_table_has_one_row_per_name():
    table = evaluate.metrics_table({"scale": SCALE, "chord": notes_table([(60, 0, 1), (64, 0, 1)])})
    assert table.index.tolist() == ["scale", "chord"]
    assert table.loc["chord", "polyphony"] == 2.0


# ----------------------------------------------------------------------------- windows and verdicts


def two_pieces() -> pd.DataFrame:
    """Piece a: 9 single notes rising by a tone. Piece b: a note, a note, a note, a chord, a note."""
    a = notes_table([(50 + 2 * i, float(i), 1.0) for i in range(9)], piece="a")
    b = notes_table([(60, 0, 1), (61, 1, 1), (62, 2, 1), (60, 3, 1), (64, 3, 1), (67, 3, 1), (72, 4, 1)], piece="b")
    return pd.concat([a, b], ignore_index=True)


def test_event_windows_keep_events_whole_and_drop_short_tails():
    windows = evaluate.event_windows(two_pieces(), 4)
    # a: events 0-3, 4-7, and a tail of 1 < 4/2 dropped; b: events 0-3 (the chord's 3 notes), tail dropped
    assert [w["pitch"].tolist() for w in windows] == [[50, 52, 54, 56], [58, 60, 62, 64], [60, 61, 62, 60, 64, 67]]
    longer_tail = evaluate.event_windows(two_pieces(), 3)  # a: 3 + 3 + 3; b: 3, then a tail of 2 >= 1.5
    assert [len(w) for w in longer_tail] == [3, 3, 3, 3, 4]
    assert len(evaluate.event_windows(two_pieces(), 20)) == 2  # each piece shorter: itself


def test_validation_ranges():
    ranges = evaluate.validation_ranges(two_pieces(), 4)
    assert ranges.index.tolist() == list(evaluate.MAIN_METRICS)
    assert ranges.columns.tolist() == ["low", "median", "high", "windows"]
    assert ranges.loc["pitch_range"].tolist() == [6, 6, 7, 3]  # ranges 6, 6 and 7 semitones
    polyphony_b = (12 * 3 + 36) / 48  # three single notes, then a chord of three
    assert ranges.loc["polyphony", "high"] == pytest.approx(polyphony_b)
    assert ranges.loc["polyphony", "low"] == 1.0


def test_verdicts_for_one_piece_and_several():
    ranges = pd.DataFrame({"low": [1.0, 0.0], "median": [2.0, 0.1], "high": [3.0, 0.2], "windows": [5, 5]},
                          index=["pitch_class_entropy", "repeat_share"])
    one = evaluate.verdicts(pd.Series({"pitch_class_entropy": 3.0, "repeat_share": 0.5, "other": 9.0}), ranges)
    assert one.columns.tolist() == ["value", "low", "median", "high", "inside"]
    assert one["inside"].tolist() == [True, False]  # the high end counts as inside
    several = pd.DataFrame({"pitch_class_entropy": [2.0, 4.0, 0.5, 2.5], "repeat_share": [0.1, 0.1, 0.1, 0.1]})
    table = evaluate.verdicts(several, ranges)
    assert table.loc["pitch_class_entropy", "value"] == pytest.approx(2.25)
    assert table["inside"].tolist() == [True, True]
    assert table["share_inside"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="repeat_share"):
        evaluate.verdicts(pd.Series({"pitch_class_entropy": 1.0}), ranges)


# ----------------------------------------------------------------------------- copy check


def test_ngram_copy_rate():
    reference = [list("abcdefgh"), list("xyz")]
    assert evaluate.ngram_copy_rate(list("bcdefg"), reference, n=3) == 1.0
    assert evaluate.ngram_copy_rate(list("qrstuv"), reference, n=3) == 0.0
    assert evaluate.ngram_copy_rate(list("abcq"), reference, n=3) == 0.5  # abc yes, bcq no
    assert evaluate.ngram_copy_rate(list("hxy"), reference, n=3) == 0.0  # h·x·y only across pieces
    assert math.isnan(evaluate.ngram_copy_rate(list("ab"), reference, n=3))


def test_copy_check_on_notes_tables():
    train = two_pieces()
    copied = train[train["piece"] == "b"].assign(piece="generated")
    fresh = notes_table([(p, float(i), 1.0) for i, p in enumerate([70, 71, 73, 70, 76])], piece="val")
    tokens = evaluate.event_tokens(train)
    assert list(tokens) == ["a", "b"]
    assert tokens["b"] == [(60,), (61,), (62,), (60, 64, 67), (72,)]
    assert evaluate.event_tokens(SCALE) == {"": [(p,) for p in [60, 62, 64, 65, 67, 69, 71]]}
    result = evaluate.copy_check(copied, train, fresh, n=3)
    assert result.to_dict() == {"generated": 1.0, "validation": 0.0, "n": 3.0}


# ----------------------------------------------------------------------------- no TensorFlow


def test_importing_evaluate_does_not_import_tensorflow():
    code = "import helpers.evaluate, sys; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
