"""Tests of helpers.models: the chapter's GRU, the LSTM composer's network and their options."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import models
from helpers.models import keras


def gru_parameters(n_in: int, units: int) -> int:
    """Keras' GRU with reset_after=True: three gates, each with input, recurrent and two biases."""
    return 3 * (n_in * units + units * units + 2 * units)


def lstm_parameters(n_in: int, units: int) -> int:
    return 4 * (n_in * units + units * units + units)


def dense_parameters(n_in: int, units: int) -> int:
    return n_in * units + units


@pytest.mark.parametrize("vocab_size", [2, 50, 358])
def test_chapter_gru_parameter_count_equals_the_hand_formula(vocab_size):
    model = models.build_gru_model(vocab_size)
    expected = (
        gru_parameters(1, 16) + gru_parameters(16, 64) + gru_parameters(64, 64)
        + dense_parameters(64, 16) + dense_parameters(16, vocab_size)
    )
    assert model.count_params() == expected
    if vocab_size == 50:
        assert expected == 43506


def test_chapter_gru_layers():
    model = models.build_gru_model(30)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["ScaleCodes", "GRU", "Dropout", "GRU", "Dropout", "GRU", "Dense", "Dropout", "Dense", "Activation"]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.GRU)] == [16, 64, 64]
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.3] * 3
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [16, 30]
    assert dense[0].get_config()["activation"] == "linear"  # the chapter's Dense(16) has no activation
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert [layer.return_sequences for layer in model.layers if isinstance(layer, keras.layers.GRU)] == [
        True, True, False,
    ]
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert model.loss == "sparse_categorical_crossentropy"


def test_lstm_default_sizes_are_the_composer_network():
    model = models.build_lstm_model(40, seq_length=10)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.LSTM)] == [512, 512, 512]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [256, 40]
    expected = (
        lstm_parameters(1, 512) + 2 * lstm_parameters(512, 512) + dense_parameters(512, 256) + dense_parameters(256, 40)
    )
    assert model.count_params() == expected


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_output_is_a_probability_per_token(build, encoding):
    model = build(11, seq_length=6, units=(4, 5), dense_units=3, input_encoding=encoding, embedding_dim=4)
    codes = np.random.default_rng(0).integers(0, 11, size=(3, 6)).astype(np.int32)
    probs = model.predict(codes, verbose=0)
    assert probs.shape == (3, 11)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and (probs >= 0).all()


def test_seq_length_none_accepts_any_window():
    model = models.build_gru_model(5, seq_length=None, units=(3,), dense_units=None)
    assert model.predict(np.zeros((2, 4), dtype=np.int32), verbose=0).shape == (2, 5)
    assert model.predict(np.zeros((2, 9), dtype=np.int32), verbose=0).shape == (2, 5)


def test_embedding_variant():
    model = models.build_gru_model(20, seq_length=8, units=(4,), dense_units=None, input_encoding="embedding",
                                   embedding_dim=6)
    embedding = model.layers[0]
    assert isinstance(embedding, keras.layers.Embedding)
    assert (embedding.input_dim, embedding.output_dim) == (20, 6)
    assert model.count_params() == 20 * 6 + gru_parameters(6, 4) + dense_parameters(4, 20)
    assert not any(isinstance(layer, models.ScaleCodes) for layer in model.layers)


def test_optional_layers_can_be_left_out():
    model = models.build_gru_model(7, seq_length=4, units=(3, 3), dropout=0.0, dense_units=None)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["ScaleCodes", "GRU", "GRU", "Dense", "Activation"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": 10, "units": ()}, "units"),
        ({"vocab_size": 10, "dropout": 1.0}, "dropout"),
        ({"vocab_size": 10, "dropout": -0.1}, "dropout"),
        ({"vocab_size": 10, "input_encoding": "onehot"}, "input_encoding"),
    ],
)
@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
def test_bad_arguments_are_value_errors(build, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


@pytest.mark.parametrize("build", [models.build_gru_model, models.build_lstm_model])
def test_recurrent_layers_keep_the_cudnn_configuration(build):
    model = build(10, seq_length=5, units=(4, 4), dense_units=4)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert len(recurrent) == 2
    for layer in recurrent:
        config = layer.get_config()
        assert config["recurrent_dropout"] == 0
        assert config["activation"] == "tanh" and config["recurrent_activation"] == "sigmoid"
        assert config["unroll"] is False and config["use_bias"] is True
        if build is models.build_gru_model:
            assert config["reset_after"] is True


def test_scale_codes_divides_by_the_vocabulary_size():
    layer = models.ScaleCodes(8)
    values = np.asarray(layer(np.array([[0, 2, 7]], dtype=np.int32)))
    assert values.shape == (1, 3, 1)
    assert np.allclose(values[0, :, 0], [0, 0.25, 0.875])
    assert layer.compute_output_shape((None, 3)) == (None, 3, 1)


@pytest.mark.parametrize("encoding", ["scaled", "embedding"])
def test_model_keras_save_load_round_trip(tmp_path, encoding):
    model = models.build_gru_model(9, seq_length=5, units=(4, 4), dense_units=4, input_encoding=encoding)
    codes = np.random.default_rng(1).integers(0, 9, size=(4, 5)).astype(np.int32)
    model.optimizer.build(model.trainable_variables)  # as after training: no optimizer-size warning on load
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.allclose(loaded.predict(codes, verbose=0), model.predict(codes, verbose=0), atol=1e-6)
    if encoding == "scaled":
        scale = loaded.get_layer("scale")
        assert isinstance(scale, models.ScaleCodes) and scale.vocab_size == 9


def test_describe_has_what_is_needed_to_rebuild():
    model = models.build_lstm_model(12, seq_length=7, units=(5, 6), dropout=0.2, dense_units=3,
                                    input_encoding="embedding", embedding_dim=4)
    assert models.describe(model) == {
        "architecture": "lstm",
        "seq_length": 7,
        "vocab_size": 12,
        "units": [5, 6],
        "dropout": 0.2,
        "dense_units": 3,
        "input_encoding": "embedding",
        "embedding_dim": 4,
        "parameters": model.count_params(),
    }
    plain = models.describe(models.build_gru_model(6, seq_length=3, units=(2,), dropout=0.0, dense_units=None))
    assert (plain["architecture"], plain["dropout"], plain["dense_units"], plain["input_encoding"]) == (
        "gru", 0.0, None, "scaled",
    )


# ----------------------------------------------------------------------------- the improved recipe's sequence model


@pytest.mark.parametrize("layer", ["gru", "lstm"])
def test_sequence_model_layers_and_optimizer(layer):
    model = models.build_sequence_model(13, seq_length=6, layer=layer, units=(8, 4), dropout=0.25, embedding_dim=5,
                                        learning_rate=0.01)
    kinds = [type(item).__name__ for item in model.layers]
    recurrent = layer.upper()
    assert kinds == ["Embedding", recurrent, "Dropout", recurrent, "Dropout", "Dense", "Activation"]
    rnns = [item for item in model.layers if isinstance(item, keras.layers.RNN)]
    assert [item.units for item in rnns] == [8, 4]
    assert all(item.return_sequences for item in rnns)  # a prediction after every step
    assert [item.rate for item in model.layers if isinstance(item, keras.layers.Dropout)] == [0.25, 0.25]
    embedding = model.layers[0]
    assert (embedding.input_dim, embedding.output_dim) == (13, 5)
    assert model.layers[-2].units == 13 and model.layers[-1].get_config()["activation"] == "softmax"
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.clipnorm == 1.0
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert model.loss == "sparse_categorical_crossentropy"
    cell = gru_parameters if layer == "gru" else lstm_parameters
    assert model.count_params() == 13 * 5 + cell(5, 8) + cell(8, 4) + dense_parameters(4, 13)


@pytest.mark.parametrize("layer", ["gru", "lstm"])
def test_sequence_model_predicts_a_distribution_at_every_step(layer):
    model = models.build_sequence_model(11, seq_length=7, layer=layer, units=(8,), embedding_dim=4)
    codes = np.random.default_rng(0).integers(0, 11, size=(3, 7)).astype(np.int32)
    probs = model.predict(codes, verbose=0)
    assert probs.shape == (3, 7, 11)
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-5) and (probs >= 0).all()
    assert models.predicts_every_step(model)
    # causal: the prediction at step t does not depend on later codes
    changed = codes.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 11
    assert np.allclose(model.predict(changed, verbose=0)[:, :4], probs[:, :4], atol=1e-6)
    assert not np.allclose(model.predict(changed, verbose=0)[:, 4:], probs[:, 4:], atol=1e-6)


def test_sequence_model_without_dropout_and_of_any_length():
    model = models.build_sequence_model(6, seq_length=None, units=(4, 4), dropout=0.0, embedding_dim=3)
    assert not any(isinstance(item, keras.layers.Dropout) for item in model.layers)
    assert model.predict(np.zeros((2, 5), dtype=np.int32), verbose=0).shape == (2, 5, 6)
    assert model.predict(np.zeros((1, 9), dtype=np.int32), verbose=0).shape == (1, 9, 6)


def test_predicts_every_step_is_false_for_the_chapter_models():
    assert not models.predicts_every_step(models.build_gru_model(5, seq_length=4, units=(3,), dense_units=None))
    assert not models.predicts_every_step(models.build_lstm_model(5, seq_length=4, units=(3,), dense_units=None))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer": "rnn"}, "layer='rnn'"),
        ({"layer": "GRU"}, "layer="),
        ({"units": ()}, "units"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.2}, "dropout"),
        ({"vocab_size": 1}, "vocab_size"),
    ],
)
def test_sequence_model_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build_sequence_model(**{"vocab_size": 10, "seq_length": 4, "units": (4,), **kwargs})


def test_sequence_model_is_registered_and_described():
    assert models.BUILDERS["sequence"] is models.build_sequence_model
    model = models.build_sequence_model(9, seq_length=5, layer="lstm", units=(4, 3), dropout=0.1, embedding_dim=2)
    described = models.describe(model)
    assert (described["architecture"], described["seq_length"], described["vocab_size"]) == ("lstm", 5, 9)
    assert described["units"] == [4, 3] and described["dense_units"] is None
    assert described["input_encoding"] == "embedding" and described["embedding_dim"] == 2


@pytest.mark.parametrize("layer", ["gru", "lstm"])
def test_stepper_of_a_sequence_model_matches_predict(layer):
    """The NumPy stepper reads the same network: its next-token probabilities after a primer
    equal the model's last-step prediction, and stepping on equals predicting longer windows."""
    from helpers import generation

    vocab_size, steps = 23, 9
    model = models.build_sequence_model(vocab_size, seq_length=None, layer=layer, units=(16, 8), dropout=0.2,
                                        embedding_dim=6)
    rng = np.random.default_rng(1)
    for weight in model.weights:  # larger weights than the initial ones: differences show
        weight.assign(rng.normal(0, 0.5, size=weight.shape).astype("float32"))
    codes = rng.integers(0, vocab_size, size=(3, steps + 2)).astype(np.int32)
    expected = model.predict(codes, verbose=0)
    stepper = generation.Stepper(model)
    probs, states = stepper.warm_up(codes[:, :steps])
    assert probs.shape == (3, vocab_size)
    assert np.allclose(probs, expected[:, steps - 1], atol=1e-4)
    for t in (steps, steps + 1):
        probs, states = stepper.step(codes[:, t], states)
        assert np.allclose(probs, expected[:, t], atol=1e-4)
