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
