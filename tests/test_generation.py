"""Tests of helpers.generation and helpers.fast_generation: both steppers against Keras and
against each other, and the choice of the next code (argmax, temperature, top-k, top-p)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import chapter, fast_generation, generation, models
from helpers.models import keras

#: The plain module and the fast one: every test of the interface runs on both.
ENGINES = pytest.mark.parametrize("engine", [generation, fast_generation], ids=["plain", "fast"])

VOCAB = 13
SEQ = 8


def randomise(model, seed=0, scale=0.6):
    """Give every weight (biases too) random values, so that no term of the step is zero."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def small_model(build=models.build_gru_model, encoding="scaled", seed=0):
    model = build(VOCAB, seq_length=SEQ, units=(4, 5), dense_units=6, input_encoding=encoding, embedding_dim=3)
    return randomise(model, seed)


def primer(batch=None, seed=1):
    shape = (SEQ,) if batch is None else (batch, SEQ)
    return np.random.default_rng(seed).integers(0, VOCAB, size=shape).astype(np.int32)


# ----------------------------------------------------------------------------- the steppers


@ENGINES
@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_stepper_matches_keras_predict_on_full_windows(engine, build, encoding):
    model = small_model(build, encoding)
    windows = primer(batch=5)
    expected = model.predict(windows, verbose=0)
    probs, states = engine.Stepper(model).warm_up(windows)
    assert probs.shape == (5, VOCAB)
    assert np.allclose(probs, expected, atol=1e-5)
    assert len(states) == 2


@ENGINES
def test_stepper_matches_keras_for_a_gru_without_reset_after(engine):
    model = keras.Sequential(
        [
            keras.Input(shape=(SEQ,), dtype="int32"),
            models.ScaleCodes(VOCAB),
            keras.layers.GRU(4, reset_after=False),
            keras.layers.Dense(VOCAB, activation="softmax"),
        ]
    )
    randomise(model, seed=2)
    windows = primer(batch=3)
    probs, _ = engine.Stepper(model).warm_up(windows)
    assert np.allclose(probs, model.predict(windows, verbose=0), atol=1e-5)


@ENGINES
def test_stepper_state_shapes(engine):
    stepper = engine.Stepper(small_model(models.build_lstm_model))
    states = stepper.initial_states(batch=3)
    assert [s.shape for s in states] == [(2, 3, 4), (2, 3, 5)]  # LSTM: (h, c) per layer
    probs, new_states = stepper.step(np.array([0, 1, 2]), states)
    assert probs.shape == (3, VOCAB) and [s.shape for s in new_states] == [(2, 3, 4), (2, 3, 5)]


@ENGINES
def test_stepper_rejects_what_it_cannot_step(engine):
    with pytest.raises(ValueError, match="no recurrent layer"):
        engine.Stepper(keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)]))
    conv = keras.Sequential([keras.Input(shape=(SEQ, 1)), keras.layers.Conv1D(2, 3), keras.layers.GRU(2)])
    with pytest.raises(NotImplementedError, match="Conv1D"):
        engine.Stepper(conv)
    relu = keras.Sequential([keras.Input(shape=(SEQ, 1)), keras.layers.GRU(2, activation="relu")])
    with pytest.raises(NotImplementedError, match="tanh"):
        engine.Stepper(relu)


def test_layers_are_told_apart_by_type_not_by_class_name():
    """A layer of another class that happens to be called ``GRU`` is not stepped as one."""

    class GRU(keras.layers.Layer):  # noqa: N801 - the name is the point
        def call(self, x):
            return x

    impostor = keras.Sequential([keras.Input(shape=(SEQ,), dtype="int32"), models.ScaleCodes(VOCAB), GRU()])
    with pytest.raises(NotImplementedError, match=r"\(GRU\) cannot be stepped"):
        generation.Stepper(impostor)


@ENGINES
def test_empty_primer_is_an_error(engine):
    with pytest.raises(ValueError, match="empty"):
        engine.Stepper(small_model()).warm_up(np.zeros((1, 0), dtype=np.int32))
    with pytest.raises(ValueError, match="empty"):
        engine.generate_codes(small_model(), np.zeros((1, 0), dtype=np.int32), 3)


# ----------------------------------------------------------------------------- generate_codes


@ENGINES
def test_generate_codes_is_reproducible_for_a_seed(engine):
    stepper = engine.Stepper(small_model())
    first = engine.generate_codes(stepper, primer(), 40, seed=7)
    again = engine.generate_codes(stepper, primer(), 40, seed=7)
    other = engine.generate_codes(stepper, primer(), 40, seed=8)
    assert first.shape == (40,) and first.dtype == np.int32
    assert np.array_equal(first, again)
    assert np.array_equal(first, engine.generate_codes(stepper, primer(), 40, "sample", 1.0, None, 7))  # seed 7th
    assert not np.array_equal(first, other)


@ENGINES
def test_generated_codes_are_in_the_vocabulary(engine):
    codes = engine.generate_codes(small_model(), primer(batch=3), 50, temperature=2.0, seed=0)
    assert codes.min() >= 0 and codes.max() < VOCAB


@ENGINES
def test_argmax_is_deterministic_and_equals_top_k_1_and_a_tiny_top_p(engine):
    stepper = engine.Stepper(small_model(models.build_lstm_model))
    argmax = engine.generate_codes(stepper, primer(), 30, method="argmax", seed=1)
    assert np.array_equal(argmax, engine.generate_codes(stepper, primer(), 30, method="argmax", seed=2))
    top_1 = engine.generate_codes(stepper, primer(), 30, method="sample", top_k=1, seed=3)
    assert np.array_equal(argmax, top_1)
    nucleus = engine.generate_codes(stepper, primer(), 30, method="sample", top_p=1e-6, seed=4)
    assert np.array_equal(argmax, nucleus)  # the likeliest code alone holds more than 1e-6


def test_first_argmax_code_equals_the_chapters_loop():
    """Both start from the primer window; after that the stepper carries its state on."""
    model = small_model()
    ours = fast_generation.generate_codes(model, primer(), 1, method="argmax")
    theirs = chapter.generate_codes(model, primer(), 3)
    assert theirs.shape == (3,) and ours[0] == theirs[0]
    assert generation.generate_codes(model, primer(), 1, method="argmax")[0] == theirs[0]


@ENGINES
def test_batch_primer_gives_one_piece_per_row(engine):
    stepper = engine.Stepper(small_model())
    batch = primer(batch=4)
    codes = engine.generate_codes(stepper, batch, 12, method="argmax")
    assert codes.shape == (4, 12)
    for row in range(4):  # each row is the piece its own primer gives alone
        assert np.array_equal(codes[row], engine.generate_codes(stepper, batch[row], 12, method="argmax"))


@ENGINES
def test_zero_notes_and_bad_arguments(engine):
    stepper = engine.Stepper(small_model())
    assert engine.generate_codes(stepper, primer(), 0).shape == (0,)
    with pytest.raises(ValueError, match="n_notes"):
        engine.generate_codes(stepper, primer(), -1)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            engine.generate_codes(stepper, primer(), 5, temperature=bad)
    with pytest.raises(ValueError, match="top_k"):
        engine.generate_codes(stepper, primer(), 5, top_k=0)
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            engine.generate_codes(stepper, primer(), 5, top_p=bad)
    with pytest.raises(ValueError, match="method"):
        engine.generate_codes(stepper, primer(), 5, method="beam")


# ----------------------------------------------------------------------------- plain and fast agree


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_fast_and_plain_generate_the_same_codes_for_a_seed(build, encoding):
    """The fused step and the block sampler change nothing but float rounding: same seed, same piece."""
    model = small_model(build, encoding, seed=5)
    plain, fast = generation.Stepper(model), fast_generation.Stepper(model)
    primers = primer(batch=5, seed=6)
    settings = [
        {"method": "argmax"},
        {"temperature": 1.0},
        {"temperature": 0.7, "top_k": 5},
        {"temperature": 1.5, "top_p": 0.8},
        {"temperature": 1.2, "top_k": 6, "top_p": 0.6},
    ]
    for options in settings:
        ours = fast_generation.generate_codes(fast, primers, 60, seed=11, **options)
        assert np.array_equal(ours, generation.generate_codes(plain, primers, 60, seed=11, **options)), options
        one = fast_generation.generate_codes(fast, primers[2], 60, seed=11, **options)
        assert np.array_equal(one, generation.generate_codes(plain, primers[2], 60, seed=11, **options)), options


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_fused_step_equals_the_layer_by_layer_step(build, encoding):
    model = small_model(build, encoding, seed=3)
    fast, plain = fast_generation.Stepper(model), generation.Stepper(model)
    codes = primer(batch=3, seed=4)
    fused = reference = plain.initial_states(3)
    for t in range(SEQ):
        probs, fused = fast.step(codes[:, t], fused)
        expected, reference = plain.step(codes[:, t], reference)
        assert np.allclose(probs, expected, atol=1e-6)
        assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(fused, reference))


def test_the_fast_stepper_is_a_stepper_and_takes_a_plain_one():
    model = small_model(models.build_lstm_model, "embedding")
    plain = generation.Stepper(model)
    fast = fast_generation.as_stepper(plain)
    assert isinstance(fast, generation.Stepper) and isinstance(fast, fast_generation.Stepper)
    assert fast_generation.as_stepper(fast) is fast and generation.as_stepper(fast) is fast
    assert np.allclose(fast.warm_up(primer(batch=2))[0], plain.warm_up(primer(batch=2))[0], atol=1e-6)


@ENGINES
def test_step_leaves_the_states_passed_in_unchanged(engine):
    stepper = engine.Stepper(small_model(models.build_lstm_model))
    _, states = stepper.warm_up(primer(batch=2))
    kept = [s.copy() for s in states]
    stepper.step(np.array([1, 2]), states)
    assert all(np.array_equal(a, b) for a, b in zip(states, kept))


@ENGINES
def test_a_model_without_a_final_softmax_is_sampled_from_its_outputs(engine):
    model = keras.Sequential(
        [keras.Input(shape=(SEQ,), dtype="int32"), models.ScaleCodes(VOCAB), keras.layers.GRU(4),
         keras.layers.Dense(VOCAB, activation="sigmoid")]
    )
    randomise(model, seed=7)
    probs, _ = engine.Stepper(model).warm_up(primer(batch=2))
    assert np.allclose(probs, model.predict(primer(batch=2), verbose=0), atol=1e-5)
    codes = engine.generate_codes(model, primer(batch=2), 20, seed=0)
    assert codes.shape == (2, 20) and codes.min() >= 0 and codes.max() < VOCAB


@ENGINES
def test_primer_codes_outside_the_vocabulary_are_an_error(engine):
    stepper = engine.Stepper(small_model())
    with pytest.raises(ValueError, match="0..12"):
        stepper.warm_up(np.array([0, 3, VOCAB]))
    with pytest.raises(ValueError, match="integer"):
        engine.generate_codes(stepper, np.array([0.5, 1.0]), 3)


# ----------------------------------------------------------------------------- choose_next


def draw(engine, probs, rows=20000, seed=0, **options):
    """Codes drawn by ``engine.choose_next`` for ``rows`` copies of the distribution ``probs``."""
    return engine.choose_next(np.tile(probs, (rows, 1)), np.random.default_rng(seed), **options)


@ENGINES
def test_sampling_follows_the_probabilities(engine):
    chosen = draw(engine, [0.1, 0.2, 0.7])
    assert np.allclose(np.bincount(chosen, minlength=3) / len(chosen), [0.1, 0.2, 0.7], atol=0.015)


@ENGINES
def test_temperature_sharpens_and_flattens(engine):
    cold = np.bincount(draw(engine, [0.1, 0.2, 0.7], temperature=0.25), minlength=3)
    hot = np.bincount(draw(engine, [0.1, 0.2, 0.7], temperature=4.0), minlength=3)
    assert cold[2] / 20000 > 0.95  # 0.7^4 / (0.1^4 + 0.2^4 + 0.7^4) ≈ 0.993
    assert 0.4 < hot[2] / 20000 < 0.5  # 0.7^0.25 / sum ≈ 0.43


@ENGINES
def test_top_k_never_picks_outside_the_k_likeliest(engine):
    chosen = draw(engine, [0.3, 0.05, 0.4, 0.25], rows=5000, top_k=2)
    assert set(np.unique(chosen)) == {0, 2}


@ENGINES
def test_argmax_picks_the_likeliest_per_row(engine):
    probs = np.array([[0.1, 0.9, 0.0], [0.6, 0.3, 0.1]])
    assert engine.choose_next(probs, np.random.default_rng(0), "argmax").tolist() == [1, 0]


# ----------------------------------------------------------------------------- top-p (nucleus)


@ENGINES
def test_top_p_draws_only_from_the_nucleus(engine):
    """p = 0.5 over [0.4, 0.3, 0.2, 0.1]: 0.4 alone is short of 0.5, 0.4 + 0.3 reaches it."""
    chosen = draw(engine, [0.4, 0.3, 0.2, 0.1], top_p=0.5)
    assert set(np.unique(chosen)) == {0, 1}
    assert np.allclose(np.bincount(chosen, minlength=4)[:2] / len(chosen), [4 / 7, 3 / 7], atol=0.015)
    assert set(np.unique(draw(engine, [0.4, 0.3, 0.2, 0.1], top_p=0.3))) == {0}
    assert set(np.unique(draw(engine, [0.4, 0.3, 0.2, 0.1], top_p=0.75))) == {0, 1, 2}


@ENGINES
def test_top_p_1_is_plain_sampling(engine):
    probs = [0.4, 0.3, 0.2, 0.1]
    assert np.array_equal(draw(engine, probs, seed=3, top_p=1.0), draw(engine, probs, seed=3))
    assert np.array_equal(draw(engine, probs, seed=3, top_p=1.0, top_k=3), draw(engine, probs, seed=3, top_k=3))


@ENGINES
def test_top_p_comes_after_temperature(engine):
    """[0.6, 0.2, 0.1, 0.1] and p = 0.7: the nucleus of the *tempered* distribution counts."""
    probs = [0.6, 0.2, 0.1, 0.1]
    assert set(np.unique(draw(engine, probs, top_p=0.7))) == {0, 1}  # untempered: 0.6, then 0.8
    # T = 0.25: [0.986, 0.012, 0.001, 0.001]: 0.986 alone holds 0.7 (top-p first would keep code 1)
    assert set(np.unique(draw(engine, probs, temperature=0.25, top_p=0.7))) == {0}
    # T = 4: [0.33, 0.25, 0.21, 0.21]: three codes reach 0.7, and code 3 ties with code 2
    assert set(np.unique(draw(engine, probs, temperature=4.0, top_p=0.7))) == {0, 1, 2, 3}


@ENGINES
def test_top_p_comes_after_top_k(engine):
    """top-k 2 leaves [0.4, 0.3] → [0.57, 0.43]; then p = 0.5 keeps code 0 alone.

    (Top-p first would keep codes 0 and 1, and top-k 2 would keep both.)
    """
    assert set(np.unique(draw(engine, [0.4, 0.3, 0.2, 0.1], top_k=2, top_p=0.5))) == {0}


@ENGINES
def test_top_p_keeps_codes_tied_at_the_edge(engine):
    chosen = draw(engine, [0.3, 0.1, 0.3, 0.3], top_p=0.4)  # 0.3 alone is short; 0.3 + 0.3 reaches it
    assert set(np.unique(chosen)) == {0, 2, 3}
    assert np.allclose(np.bincount(chosen, minlength=4) / len(chosen), [1 / 3, 0, 1 / 3, 1 / 3], atol=0.015)
    assert set(np.unique(draw(engine, [0.25] * 4, rows=4000, top_p=0.1))) == {0, 1, 2, 3}


@ENGINES
def test_top_p_on_a_batch_cuts_each_row_by_its_own_nucleus(engine):
    probs = np.tile([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], (3000, 1))
    chosen = engine.choose_next(probs, np.random.default_rng(5), top_p=0.5).reshape(3000, 3)
    assert set(np.unique(chosen[:, 0])) == {0, 1}
    assert set(np.unique(chosen[:, 1])) == {2, 3}
    assert set(np.unique(chosen[:, 2])) == {0}


@ENGINES
def test_top_p_across_sampling_blocks(engine):
    """70 codes (the fast sampler's blocks of 32): the nucleus is the 5 likeliest wherever they lie."""
    probs = np.full(70, 0.1 / 65)
    likeliest = [0, 31, 32, 45, 69]
    probs[likeliest] = [0.2, 0.25, 0.15, 0.18, 0.12]  # 0.9 together
    chosen = draw(engine, probs, rows=6000, seed=2, top_p=0.85)
    assert set(np.unique(chosen)) == set(likeliest)


def test_keep_top_p_on_a_hand_made_row():
    kept = generation.keep_top_p(np.array([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]]), 0.5)
    assert kept.tolist() == [[4.0, 3.0, 0.0, 0.0], [0.0, 0.0, 3.0, 4.0]]  # weights need not sum to 1


@ENGINES
def test_top_p_sampling_is_reproducible_for_a_seed(engine):
    stepper = engine.Stepper(small_model(seed=9))
    first = engine.generate_codes(stepper, primer(batch=3), 40, top_p=0.7, seed=2)
    assert np.array_equal(first, engine.generate_codes(stepper, primer(batch=3), 40, top_p=0.7, seed=2))
    assert not np.array_equal(first, engine.generate_codes(stepper, primer(batch=3), 40, top_p=0.7, seed=3))
    probs, _ = stepper.warm_up(primer(batch=3))
    for row, code in zip(probs, first[:, 0]):  # the first code lies in its row's nucleus
        assert generation.keep_top_p(row[None].astype(np.float64), 0.7)[0, code] > 0


# ----------------------------------------------------------------------------- sampling a batch (fast)


def test_batch_sampling_follows_probabilities_across_blocks():
    """100 codes: four blocks of the two-level sampler, and a partial last one."""
    weights = np.random.default_rng(0).random(100) ** 3
    probs = np.tile(weights / weights.sum(), (60000, 1))
    chosen = fast_generation.choose_next(probs, np.random.default_rng(1))
    assert np.abs(np.bincount(chosen, minlength=100) / len(chosen) - probs[0]).max() < 0.006
    assert np.array_equal(chosen[:2000], generation.choose_next(probs[:2000], np.random.default_rng(1)))


@ENGINES
def test_batch_sampling_never_picks_a_code_of_probability_zero(engine):
    probs = np.zeros((4000, 70))
    probs[:, [0, 31, 32, 33, 69]] = [0.1, 0.3, 0.2, 0.25, 0.15]  # at block edges
    probs[:, 40] = 1e-45  # below MIN_PROBABILITY: as good as zero
    chosen = engine.choose_next(probs, np.random.default_rng(2))
    assert set(np.unique(chosen)) == {0, 31, 32, 33, 69}
    top_2 = engine.choose_next(probs, np.random.default_rng(3), top_k=2)
    assert set(np.unique(top_2)) == {31, 33}


@ENGINES
def test_batch_of_pieces_sampled_with_top_k_stays_among_the_likeliest(engine):
    stepper = engine.Stepper(small_model(seed=8))
    batch = primer(batch=40, seed=9)
    probs, _ = stepper.warm_up(batch)
    codes = engine.generate_codes(stepper, batch, 1, top_k=3, seed=0)[:, 0]
    top_3 = np.argsort(probs, axis=1)[:, -3:]
    assert all(code in row for code, row in zip(codes, top_3))


def test_sampling_weights_apply_temperature_then_top_k_then_top_p():
    probs = np.array([[0.4, 0.3, 0.2, 0.1]])
    plain = generation.sampling_weights(probs)
    np.testing.assert_allclose(plain / plain.sum(), probs)
    sharp = generation.sampling_weights(probs, temperature=0.5)  # squared, renormalised
    np.testing.assert_allclose(sharp / sharp.sum(), [[0.16, 0.09, 0.04, 0.01]] / np.float64(0.30))
    kept = generation.sampling_weights(probs, top_k=3, top_p=0.6)  # top-k leaves 0.4, 0.3, 0.2; 0.6 of 0.9 needs two
    assert (kept > 0).tolist() == [[True, True, False, False]]
