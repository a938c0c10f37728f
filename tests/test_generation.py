"""Tests of helpers.generation: the NumPy stepper against Keras, and the sampling of codes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import generation, models
from helpers.models import keras

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


# ----------------------------------------------------------------------------- the stepper


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_stepper_matches_keras_predict_on_full_windows(build, encoding):
    model = small_model(build, encoding)
    windows = primer(batch=5)
    expected = model.predict(windows, verbose=0)
    probs, states = generation.Stepper(model).warm_up(windows)
    assert probs.shape == (5, VOCAB)
    assert np.allclose(probs, expected, atol=1e-5)
    assert len(states) == 2


def test_stepper_matches_keras_for_a_gru_without_reset_after():
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
    probs, _ = generation.Stepper(model).warm_up(windows)
    assert np.allclose(probs, model.predict(windows, verbose=0), atol=1e-5)


def test_stepper_state_shapes():
    stepper = generation.Stepper(small_model(models.build_lstm_model))
    states = stepper.initial_states(batch=3)
    assert [s.shape for s in states] == [(2, 3, 4), (2, 3, 5)]  # LSTM: (h, c) per layer
    probs, new_states = stepper.step(np.array([0, 1, 2]), states)
    assert probs.shape == (3, VOCAB) and [s.shape for s in new_states] == [(2, 3, 4), (2, 3, 5)]


def test_stepper_rejects_what_it_cannot_step():
    with pytest.raises(ValueError, match="no recurrent layer"):
        generation.Stepper(keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)]))
    conv = keras.Sequential([keras.Input(shape=(SEQ, 1)), keras.layers.Conv1D(2, 3), keras.layers.GRU(2)])
    with pytest.raises(NotImplementedError, match="Conv1D"):
        generation.Stepper(conv)
    relu = keras.Sequential([keras.Input(shape=(SEQ, 1)), keras.layers.GRU(2, activation="relu")])
    with pytest.raises(NotImplementedError, match="tanh"):
        generation.Stepper(relu)


def test_empty_primer_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        generation.Stepper(small_model()).warm_up(np.zeros((1, 0), dtype=np.int32))


# ----------------------------------------------------------------------------- generate_codes


def test_generate_codes_is_reproducible_for_a_seed():
    stepper = generation.Stepper(small_model())
    first = generation.generate_codes(stepper, primer(), 40, seed=7)
    again = generation.generate_codes(stepper, primer(), 40, seed=7)
    other = generation.generate_codes(stepper, primer(), 40, seed=8)
    assert first.shape == (40,) and first.dtype == np.int32
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_generated_codes_are_in_the_vocabulary():
    codes = generation.generate_codes(small_model(), primer(batch=3), 50, temperature=2.0, seed=0)
    assert codes.min() >= 0 and codes.max() < VOCAB


def test_argmax_is_deterministic_and_equals_top_k_1():
    stepper = generation.Stepper(small_model(models.build_lstm_model))
    argmax = generation.generate_codes(stepper, primer(), 30, method="argmax", seed=1)
    assert np.array_equal(argmax, generation.generate_codes(stepper, primer(), 30, method="argmax", seed=2))
    top_1 = generation.generate_codes(stepper, primer(), 30, method="sample", top_k=1, seed=3)
    assert np.array_equal(argmax, top_1)


def test_first_argmax_code_equals_the_chapters_loop():
    """Both start from the primer window; after that the stepper carries its state on."""
    model = small_model()
    ours = generation.generate_codes(model, primer(), 1, method="argmax")
    chapter = generation.chapter_generate_codes(model, primer(), 3)
    assert chapter.shape == (3,) and ours[0] == chapter[0]


def test_batch_primer_gives_one_piece_per_row():
    stepper = generation.Stepper(small_model())
    batch = primer(batch=4)
    codes = generation.generate_codes(stepper, batch, 12, method="argmax")
    assert codes.shape == (4, 12)
    for row in range(4):  # each row is the piece its own primer gives alone
        assert np.array_equal(codes[row], generation.generate_codes(stepper, batch[row], 12, method="argmax"))


def test_zero_notes_and_bad_arguments():
    stepper = generation.Stepper(small_model())
    assert generation.generate_codes(stepper, primer(), 0).shape == (0,)
    with pytest.raises(ValueError, match="n_notes"):
        generation.generate_codes(stepper, primer(), -1)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            generation.generate_codes(stepper, primer(), 5, temperature=bad)
    with pytest.raises(ValueError, match="top_k"):
        generation.generate_codes(stepper, primer(), 5, top_k=0)
    with pytest.raises(ValueError, match="method"):
        generation.generate_codes(stepper, primer(), 5, method="beam")


# ----------------------------------------------------------------------------- choose_next


def test_sampling_follows_the_probabilities():
    probs = np.tile([0.1, 0.2, 0.7], (20000, 1))
    chosen = generation.choose_next(probs, np.random.default_rng(0))
    assert np.allclose(np.bincount(chosen, minlength=3) / len(chosen), [0.1, 0.2, 0.7], atol=0.015)


def test_temperature_sharpens_and_flattens():
    probs = np.tile([0.1, 0.2, 0.7], (20000, 1))
    cold = np.bincount(generation.choose_next(probs, np.random.default_rng(0), temperature=0.25), minlength=3)
    hot = np.bincount(generation.choose_next(probs, np.random.default_rng(0), temperature=4.0), minlength=3)
    assert cold[2] / 20000 > 0.95  # 0.7^4 / (0.1^4 + 0.2^4 + 0.7^4) ≈ 0.993
    assert 0.4 < hot[2] / 20000 < 0.5  # 0.7^0.25 / sum ≈ 0.43


def test_top_k_never_picks_outside_the_k_likeliest():
    probs = np.tile([0.3, 0.05, 0.4, 0.25], (5000, 1))
    chosen = generation.choose_next(probs, np.random.default_rng(0), top_k=2)
    assert set(np.unique(chosen)) == {0, 2}


def test_argmax_picks_the_likeliest_per_row():
    probs = np.array([[0.1, 0.9, 0.0], [0.6, 0.3, 0.1]])
    assert generation.choose_next(probs, np.random.default_rng(0), "argmax").tolist() == [1, 0]


# ----------------------------------------------------------------------------- the fused step


def reference_generate(stepper, codes, n_notes, temperature=1.0, seed=0):
    """generate_codes written plainly: the layer-by-layer step and float64 sampling."""
    rng = np.random.default_rng(seed)
    states = stepper.initial_states(1)
    for code in codes:
        probs, states = stepper.reference_step(np.array([code]), states)
    out = []
    for _ in range(n_notes):
        logits = np.log(np.maximum(probs.astype(np.float64), 1e-30)) / temperature
        weights = np.exp(logits - logits.max())
        cumulative = np.cumsum(weights)
        out.append(int((cumulative <= rng.random() * cumulative[-1]).sum()))
        probs, states = stepper.reference_step(np.array([out[-1]]), states)
    return np.array(out)


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_fused_step_equals_the_layer_by_layer_step(build, encoding):
    stepper = generation.Stepper(small_model(build, encoding, seed=3))
    codes = primer(batch=3, seed=4)
    fused = reference = stepper.initial_states(3)
    for t in range(SEQ):
        probs, fused = stepper.step(codes[:, t], fused)
        expected, reference = stepper.reference_step(codes[:, t], reference)
        assert np.allclose(probs, expected, atol=1e-6)
        assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(fused, reference))


def test_step_leaves_the_states_passed_in_unchanged():
    stepper = generation.Stepper(small_model(models.build_lstm_model))
    _, states = stepper.warm_up(primer(batch=2))
    kept = [s.copy() for s in states]
    stepper.step(np.array([1, 2]), states)
    assert all(np.array_equal(a, b) for a, b in zip(states, kept))


def test_seeded_sampling_gives_the_plain_loops_piece():
    """The fused step and the block sampler change nothing but float rounding."""
    stepper = generation.Stepper(small_model(seed=5))
    for temperature in (0.7, 1.0, 1.5):
        ours = generation.generate_codes(stepper, primer(seed=6), 60, temperature=temperature, seed=11)
        assert np.array_equal(ours, reference_generate(stepper, primer(seed=6), 60, temperature, seed=11))


def test_a_model_without_a_final_softmax_is_sampled_from_its_outputs():
    model = keras.Sequential(
        [keras.Input(shape=(SEQ,), dtype="int32"), models.ScaleCodes(VOCAB), keras.layers.GRU(4),
         keras.layers.Dense(VOCAB, activation="sigmoid")]
    )
    randomise(model, seed=7)
    probs, _ = generation.Stepper(model).warm_up(primer(batch=2))
    assert np.allclose(probs, model.predict(primer(batch=2), verbose=0), atol=1e-5)
    codes = generation.generate_codes(model, primer(batch=2), 20, seed=0)
    assert codes.shape == (2, 20) and codes.min() >= 0 and codes.max() < VOCAB


def test_primer_codes_outside_the_vocabulary_are_an_error():
    stepper = generation.Stepper(small_model())
    with pytest.raises(ValueError, match="0..12"):
        stepper.warm_up(np.array([0, 3, VOCAB]))
    with pytest.raises(ValueError, match="integer"):
        generation.generate_codes(stepper, np.array([0.5, 1.0]), 3)


# ----------------------------------------------------------------------------- sampling a batch


def test_batch_sampling_follows_probabilities_across_blocks():
    """100 codes: four blocks of the two-level sampler, and a partial last one."""
    weights = np.random.default_rng(0).random(100) ** 3
    probs = np.tile(weights / weights.sum(), (60000, 1))
    chosen = generation.choose_next(probs, np.random.default_rng(1))
    assert np.abs(np.bincount(chosen, minlength=100) / len(chosen) - probs[0]).max() < 0.006


def test_batch_sampling_never_picks_a_code_of_probability_zero():
    probs = np.zeros((4000, 70))
    probs[:, [0, 31, 32, 33, 69]] = [0.1, 0.3, 0.2, 0.25, 0.15]  # at block edges
    probs[:, 40] = 1e-45  # below MIN_PROBABILITY: as good as zero
    chosen = generation.choose_next(probs, np.random.default_rng(2))
    assert set(np.unique(chosen)) == {0, 31, 32, 33, 69}
    top_2 = generation.choose_next(probs, np.random.default_rng(3), top_k=2)
    assert set(np.unique(top_2)) == {31, 33}


def test_batch_of_pieces_sampled_with_top_k_stays_among_the_likeliest():
    stepper = generation.Stepper(small_model(seed=8))
    batch = primer(batch=40, seed=9)
    probs, _ = stepper.warm_up(batch)
    codes = generation.generate_codes(stepper, batch, 1, top_k=3, seed=0)[:, 0]
    top_3 = np.argsort(probs, axis=1)[:, -3:]
    assert all(code in row for code, row in zip(codes, top_3))
