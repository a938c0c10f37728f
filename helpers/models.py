"""The chapter's GRU and the LSTM composer's network, as configurable Keras 3 models.

Explained in notebook 04. The model takes integer token codes of shape ``(batch, seq_length)``
and returns next-token probabilities of shape ``(batch, vocab_size)``. How the codes reach the
first recurrent layer is the *input encoding*:

``"scaled"``
    The chapter's way: each code becomes one number, ``code / vocab_size``. A
    :class:`ScaleCodes` layer does the division inside the model, so generation needs no
    separate scaling step (the chapter divides outside the model, twice).
``"embedding"``
    Each code picks a learned vector of ``embedding_dim`` numbers: neighbouring codes no
    longer look almost the same to the network.

Both keep the cuDNN kernels usable on a GPU: default activations, ``recurrent_dropout=0``,
``unroll=False``, ``use_bias=True`` and ``reset_after=True`` (GRU).

:func:`build_sequence_model` is the improved recipe of notebook 08: an embedding input, a
prediction at *every* step of the window (not only after the last one), Adam with gradient
clipping. Its sizes were chosen by measurement on the shipped data (notebook 08 shows how).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from helpers import config

config.import_tensorflow()  # quietly, before Keras

import keras  # noqa: E402

INPUT_ENCODINGS = ("scaled", "embedding")
#: The chapter's GRU sizes (notebook 04).
CHAPTER_GRU_UNITS = (16, 64, 64)
#: The LSTM composer's sizes (the blog post's ``network.py``).
COMPOSER_LSTM_UNITS = (512, 512, 512)


@keras.saving.register_keras_serializable(package="helpers")
class ScaleCodes(keras.layers.Layer):
    """Integer codes ``(..., steps)`` → floats ``(..., steps, 1)`` equal to ``code / vocab_size``."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)

    def call(self, codes):
        values = keras.ops.cast(codes, self.compute_dtype) / float(self.vocab_size)
        return keras.ops.expand_dims(values, -1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, 1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


def _check_sizes(vocab_size: int, units: Sequence[int], dropout: float) -> None:
    if vocab_size < 2:
        raise ValueError(f"vocab_size={vocab_size}: a model needs at least 2 distinct tokens")
    if not units:
        raise ValueError("units: give at least one recurrent layer size")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout}: expected 0 <= dropout < 1")


def _build_recurrent(
    layer: type,
    vocab_size: int,
    seq_length: int | None,
    units: Sequence[int],
    dropout: float,
    dense_units: int | None,
    input_encoding: str,
    embedding_dim: int,
    learning_rate: float,
    name: str,
) -> keras.Model:
    if input_encoding not in INPUT_ENCODINGS:
        raise ValueError(f"input_encoding={input_encoding!r}: expected one of {', '.join(INPUT_ENCODINGS)}")
    _check_sizes(vocab_size, units, dropout)
    layers = [keras.Input(shape=(seq_length,), dtype="int32", name="codes")]
    if input_encoding == "scaled":
        layers.append(ScaleCodes(vocab_size, name="scale"))
    else:
        layers.append(keras.layers.Embedding(vocab_size, embedding_dim, name="embedding"))
    for i, size in enumerate(units):
        last = i == len(units) - 1
        layers.append(layer(size, return_sequences=not last, name=f"{layer.__name__.lower()}_{i + 1}"))
        if not last and dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i + 1}"))
    if dense_units:
        layers.append(keras.layers.Dense(dense_units, name="dense"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name="dropout_dense"))
    layers.append(keras.layers.Dense(vocab_size, name="logits"))
    layers.append(keras.layers.Activation("softmax", name="softmax"))
    model = keras.Sequential(layers, name=name)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
    )
    return model


def build_gru_model(
    vocab_size: int,
    seq_length: int | None = 100,
    units: Sequence[int] = CHAPTER_GRU_UNITS,
    dropout: float = 0.3,
    dense_units: int | None = 16,
    input_encoding: str = "scaled",
    embedding_dim: int = 32,
    learning_rate: float = 0.001,
) -> keras.Model:
    """The chapter's GRU: GRU 16/64/64 with Dropout 0.3, Dense 16, Dropout, softmax; RMSprop.

    The defaults give exactly the chapter's layers and parameter count. Its loss,
    categorical cross-entropy on one-hot targets, is computed here as *sparse* categorical
    cross-entropy on integer targets: the same number, without a one-hot array
    (notebook 03 shows they agree).

    Args:
        vocab_size: number of distinct tokens (the chapter's ``Len_Notes``).
        seq_length: steps per input window (``None`` accepts any length).
        units: one entry per recurrent layer, its size.
        dropout: rate of the Dropout layers after each recurrent layer but the last and after
            the Dense layer; 0 leaves them out.
        dense_units: size of the hidden Dense layer (no activation, as in the chapter);
            ``None`` or 0 leaves it out.
        input_encoding: ``"scaled"`` (the chapter) or ``"embedding"``.
        embedding_dim: embedding size when ``input_encoding="embedding"``.
        learning_rate: RMSprop's learning rate (Keras' default 0.001).

    >>> build_gru_model(50).count_params()  # doctest: +SKIP
    43506
    """
    arguments = dict(locals())
    model = _build_recurrent(
        keras.layers.GRU, vocab_size, seq_length, units, dropout, dense_units,
        input_encoding, embedding_dim, learning_rate, "chapter_gru",
    )
    return _remember_builder(model, "gru", arguments)


def build_lstm_model(
    vocab_size: int,
    seq_length: int | None = 100,
    units: Sequence[int] = COMPOSER_LSTM_UNITS,
    dropout: float = 0.3,
    dense_units: int | None = 256,
    input_encoding: str = "scaled",
    embedding_dim: int = 32,
    learning_rate: float = 0.001,
) -> keras.Model:
    """The LSTM composer's network: LSTM 512/512/512, Dropout 0.3, Dense 256, softmax; RMSprop.

    Same arguments as :func:`build_gru_model`; the defaults are the blog post's sizes.
    """
    arguments = dict(locals())
    model = _build_recurrent(
        keras.layers.LSTM, vocab_size, seq_length, units, dropout, dense_units,
        input_encoding, embedding_dim, learning_rate, "composer_lstm",
    )
    return _remember_builder(model, "lstm", arguments)


#: The improved recipe's sizes (notebook 08): chosen by measurement on the shipped data.
SEQUENCE_UNITS = (256, 256)
SEQUENCE_EMBEDDING_DIM = 64
SEQUENCE_DROPOUT = 0.3
SEQUENCE_LEARNING_RATE = 0.002
SEQUENCE_LAYERS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


def build_sequence_model(
    vocab_size: int,
    seq_length: int | None = 128,
    layer: str = "gru",
    units: Sequence[int] = SEQUENCE_UNITS,
    dropout: float = SEQUENCE_DROPOUT,
    embedding_dim: int = SEQUENCE_EMBEDDING_DIM,
    learning_rate: float = SEQUENCE_LEARNING_RATE,
) -> keras.Model:
    """The improved recipe (notebook 08): Embedding → GRU/LSTM layers → a prediction at every step.

    What changes against the chapter, and why:

    - an **embedding** input: each token gets a learned vector instead of one number
      ``code / vocab_size`` that makes neighbouring codes look alike;
    - **a target at every step**: the output has shape ``(batch, steps, vocab_size)``, the
      probabilities of the token after each position, so one window of 128 tokens teaches
      128 predictions instead of one;
    - **Adam** with gradient clipping (``clipnorm=1``), which recurrent networks need against
      exploding gradients; the learning rate is halved when the validation loss stalls
      (see :func:`helpers.training.train`);
    - dropout after every recurrent layer; no hidden Dense layer.

    Args:
        vocab_size: number of distinct tokens.
        seq_length: steps per training window (``None`` accepts any length).
        layer: ``"gru"`` or ``"lstm"``.
        units: one entry per recurrent layer, its size.
        dropout: rate of the Dropout after each recurrent layer (0 leaves them out).
        embedding_dim: size of the token vectors.
        learning_rate: Adam's initial learning rate.
    """
    arguments = dict(locals())
    if layer not in SEQUENCE_LAYERS:
        raise ValueError(f"layer={layer!r}: expected one of {', '.join(SEQUENCE_LAYERS)}")
    _check_sizes(vocab_size, units, dropout)
    recurrent = SEQUENCE_LAYERS[layer]
    layers = [
        keras.Input(shape=(seq_length,), dtype="int32", name="codes"),
        keras.layers.Embedding(vocab_size, embedding_dim, name="embedding"),
    ]
    for i, size in enumerate(units):
        layers.append(recurrent(size, return_sequences=True, name=f"{layer}_{i + 1}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i + 1}"))
    layers.append(keras.layers.Dense(vocab_size, name="logits"))
    layers.append(keras.layers.Activation("softmax", name="softmax"))
    model = keras.Sequential(layers, name=f"sequence_{layer}")
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=1.0),
    )
    return _remember_builder(model, "sequence", arguments)


def predicts_every_step(model: keras.Model) -> bool:
    """Whether ``model`` predicts the next token after every step (the improved recipe)
    rather than only after the last step of its window (the chapter's)."""
    return len(model.output_shape) == 3


def _remember_builder(model: keras.Model, builder: str, arguments: dict) -> keras.Model:
    """Keep on ``model`` the builder that made it and every argument it was given, defaults
    included, so that a run records them (:func:`builder_record`) and is rebuilt from them."""
    arguments = {key: list(value) if isinstance(value, tuple) else value for key, value in arguments.items()}
    model.built_by = json.dumps({"builder": builder, "builder_args": arguments})  # a string: Keras leaves it as it is
    return model


def builder_record(model: keras.Model) -> dict | None:
    """``{"builder": name, "builder_args": {...}}`` of a model made by one of :data:`BUILDERS`,
    or ``None`` for a model made otherwise (or loaded from a ``.keras`` file)."""
    record = getattr(model, "built_by", None)
    return json.loads(record) if record else None


#: The model builders by name, as recorded in a run's ``config.json`` (``builder``).
BUILDERS = {"gru": build_gru_model, "lstm": build_lstm_model, "sequence": build_sequence_model}


def describe(model: keras.Model) -> dict:
    """What ``model`` is, read off its layers, for a reader of ``config.json``: architecture,
    sizes, encoding and parameter count. A run is rebuilt from its builder's arguments
    (:func:`builder_record`), never from this."""
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    dropouts = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    embedding = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    return {
        "architecture": "lstm" if isinstance(recurrent[0], keras.layers.LSTM) else "gru",
        "seq_length": model.input_shape[1],
        "vocab_size": dense[-1].units,
        "units": [layer.units for layer in recurrent],
        "dropout": dropouts[0] if dropouts else 0.0,
        "dense_units": dense[0].units if len(dense) > 1 else None,
        "input_encoding": "embedding" if embedding else "scaled",
        "embedding_dim": embedding[0].output_dim if embedding else None,
        "parameters": int(model.count_params()),
    }
