"""Generate token codes from a trained model, one recurrent step per new note.

Explained in notebook 06 (and the GRU step itself in notebook 04).

The chapter calls ``model.predict`` on the whole 100-step window for every new note (see
:func:`helpers.chapter.generate_codes`). A recurrent network does not need that: its state
after the window already summarises it. Here the trained weights are copied into NumPy, the
primer is run through once, and each new note costs one step of each layer with the state
carried. The next code is then chosen from the probabilities the step gives:

1. ``temperature`` divides the log-probabilities (below 1 sharpens, above 1 flattens);
2. ``top_k`` keeps the ``k`` likeliest codes;
3. ``top_p`` keeps the likeliest codes whose probabilities add up to ``p`` (the *nucleus*);
4. one code is drawn from what is left (``method="sample"``), or the likeliest is taken
   (``method="argmax"``, the chapter's choice).

That is the order Hugging Face's ``generate`` applies them in. This module is the plain
version, to read; :mod:`helpers.fast_generation` does the same step some 2-3x faster (one
piece, 2 CPU cores) with the same interface, and the pipeline and the command line use that
one. Neither module imports TensorFlow: they read the weights of a Keras model built by
:mod:`helpers.models` (GRU or LSTM, scaled or embedding input).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.errors import DataError

METHODS = ("sample", "argmax")
#: Probabilities below this are taken as this before their log is taken (log of 0).
MIN_PROBABILITY = 1e-30


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # the same function, without overflow warnings


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "softmax": _softmax,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
}


# ----------------------------------------------------------------------------- one step of a layer


def gru_step(x: np.ndarray, h: np.ndarray, kernel, recurrent_kernel, bias, reset_after: bool = True) -> np.ndarray:
    """One GRU step, as Keras computes it (notebook 04 checks it against Keras).

    Args:
        x: inputs ``(batch, features)``.
        h: previous state ``(batch, units)``.
        kernel: ``(features, 3 * units)``, gates in the order update z, reset r, candidate.
        recurrent_kernel: ``(units, 3 * units)``.
        bias: ``(2, 3 * units)`` when ``reset_after`` (input and recurrent bias), else ``(3 * units,)``.

    Returns:
        the new state ``h_t = z * h + (1 - z) * tanh(x W_h + r * (h U_h))``.
    """
    units = h.shape[-1]
    if reset_after:
        gates_x = x @ kernel + bias[0]
        gates_h = h @ recurrent_kernel + bias[1]
        z = _sigmoid(gates_x[:, :units] + gates_h[:, :units])
        r = _sigmoid(gates_x[:, units : 2 * units] + gates_h[:, units : 2 * units])
        candidate = np.tanh(gates_x[:, 2 * units :] + r * gates_h[:, 2 * units :])
    else:
        gates_x = x @ kernel + bias
        z = _sigmoid(gates_x[:, :units] + h @ recurrent_kernel[:, :units])
        r = _sigmoid(gates_x[:, units : 2 * units] + h @ recurrent_kernel[:, units : 2 * units])
        candidate = np.tanh(gates_x[:, 2 * units :] + (r * h) @ recurrent_kernel[:, 2 * units :])
    return z * h + (1.0 - z) * candidate


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step as Keras computes it; gates in the order input, forget, cell, output.

    Returns:
        ``(h_t, c_t)``, each ``(batch, units)``.
    """
    units = h.shape[-1]
    gates = x @ kernel + h @ recurrent_kernel + bias
    i = _sigmoid(gates[:, :units])
    f = _sigmoid(gates[:, units : 2 * units])
    c = f * c + i * np.tanh(gates[:, 2 * units : 3 * units])
    o = _sigmoid(gates[:, 3 * units :])
    return o * np.tanh(c), c


# ----------------------------------------------------------------------------- the model, step by step


def _activation(layer) -> Callable[[np.ndarray], np.ndarray]:
    name = layer.get_config().get("activation", "linear")
    if name not in ACTIVATIONS:
        raise NotImplementedError(f"{layer.name}: activation {name!r} cannot be stepped")
    return ACTIVATIONS[name]


def _recurrent_weights(layer, weights: list[np.ndarray]) -> list[np.ndarray]:
    config = layer.get_config()
    if config.get("activation") != "tanh" or config.get("recurrent_activation") != "sigmoid":
        raise NotImplementedError(f"{layer.name}: only tanh/sigmoid activations are supported")
    if not config.get("use_bias", True):
        raise NotImplementedError(f"{layer.name}: a recurrent layer without bias cannot be stepped")
    return weights


def _layer_readers() -> list[tuple[type, Callable]]:
    """Keras layer class → what one step of it does, as an op: ``reader(layer, weights, slot)``.

    Imported here, not at the top: a model passed in has loaded Keras already, and importing
    this module stays free of TensorFlow.
    """
    import keras

    from helpers.models import ScaleCodes

    layers = keras.layers
    return [
        (layers.InputLayer, lambda layer, weights, slot: None),
        (layers.Dropout, lambda layer, weights, slot: None),  # does nothing at generation time
        (ScaleCodes, lambda layer, weights, slot: ("scale", float(layer.vocab_size))),
        (layers.Embedding, lambda layer, weights, slot: ("embed", weights[0])),
        (layers.GRU, lambda layer, weights, slot: (
            "gru", slot, _recurrent_weights(layer, weights), bool(layer.get_config().get("reset_after", True)))),
        (layers.LSTM, lambda layer, weights, slot: ("lstm", slot, _recurrent_weights(layer, weights))),
        (layers.Dense, lambda layer, weights, slot: (
            "dense", weights[0], weights[1] if len(weights) > 1 else 0.0, _activation(layer))),
        (layers.Activation, lambda layer, weights, slot: ("activation", _activation(layer))),
    ]


class Stepper:
    """A trained Keras model, copied into NumPy so that it can run one time step at a time.

    >>> stepper = Stepper(model)                     # doctest: +SKIP
    >>> probs, states = stepper.warm_up(primer)      # primer: (batch, steps) codes
    >>> probs, states = stepper.step(codes, states)  # codes: (batch,), one new note each

    States are float32: per GRU layer ``(batch, units)``, per LSTM layer ``(2, batch, units)``
    (``h`` and ``c``). The layers become a list of *ops* (``("gru", slot, weights,
    reset_after)``, ``("dense", weight, bias, activation)``, …) that :meth:`step` runs in order.

    Attributes:
        width: codes the model scores (its output width).
        n_codes: codes the model takes as input (its vocabulary).
    """

    def __init__(self, model):
        readers = _layer_readers()
        self.ops: list[tuple] = []
        self.state_sizes: list[tuple[int, ...]] = []
        for layer in model.layers:
            reader = next((read for cls, read in readers if isinstance(layer, cls)), None)
            if reader is None:
                raise NotImplementedError(f"layer {layer.name} ({type(layer).__name__}) cannot be stepped")
            weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
            op = reader(layer, weights, len(self.state_sizes))
            if op is None:
                continue
            if op[0] in ("gru", "lstm"):
                units = weights[1].shape[0]
                self.state_sizes.append((units,) if op[0] == "gru" else (2, units))
            self.ops.append(op)
        if not self.state_sizes:
            raise ValueError("the model has no recurrent layer")
        self._check_layout()

    def _check_layout(self) -> None:
        names = [op[0] for op in self.ops]
        recurrent = [i for i, name in enumerate(names) if name in ("gru", "lstm")]
        first, last = recurrent[0], recurrent[-1]
        if names[:first] not in (["scale"], ["embed"]):
            raise NotImplementedError(
                "the model must start with a ScaleCodes or Embedding layer before its first recurrent layer"
            )
        between = [name for name in names[first : last + 1] if name not in ("gru", "lstm")]
        if between:
            raise NotImplementedError(f"layers between recurrent layers cannot be stepped: {between}")
        head = [op for op in self.ops[last + 1 :] if op[0] == "dense"]
        self.width = head[-1][1].shape[1] if head else self.state_sizes[-1][-1]
        source = self.ops[0]
        self.n_codes = max(int(round(source[1])), self.width) if source[0] == "scale" else source[1].shape[0]

    def check_codes(self, codes: np.ndarray, what: str = "codes") -> np.ndarray:
        """``codes`` as an integer array, checked to lie in the model's vocabulary ``0..n_codes - 1``."""
        codes = np.asarray(codes)
        if codes.dtype.kind == "f" and codes.size and np.array_equal(codes, np.round(codes)):
            codes = codes.astype(np.int64)
        if codes.dtype.kind not in "iub":
            raise ValueError(f"{what}: expected integer token codes, got dtype {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.n_codes):
            raise ValueError(
                f"{what}: codes must lie in 0..{self.n_codes - 1} (the model's vocabulary), "
                f"got {int(codes.min())}..{int(codes.max())}"
            )
        return codes.astype(np.intp, copy=False)

    def initial_states(self, batch: int) -> list[np.ndarray]:
        """Zero states, as Keras starts every window."""
        return [np.zeros((*size[:-1], batch, size[-1]), dtype=np.float32) for size in self.state_sizes]

    def step(self, codes: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one code per sequence ``(batch,)``; return probabilities ``(batch, width)`` and new states.

        The states passed in are not changed.
        """
        codes = self.check_codes(np.atleast_1d(codes))
        x: np.ndarray = codes
        states = list(states)
        for op in self.ops:
            name = op[0]
            if name == "scale":
                x = (codes.astype(np.float32) / np.float32(op[1]))[:, None]
            elif name == "embed":
                x = op[1][codes]
            elif name == "gru":
                _, slot, (kernel, recurrent, bias), reset_after = op
                x = states[slot] = gru_step(x, states[slot], kernel, recurrent, bias, reset_after)
            elif name == "lstm":
                _, slot, (kernel, recurrent, bias) = op
                h, c = lstm_step(x, states[slot][0], states[slot][1], kernel, recurrent, bias)
                states[slot] = np.stack([h, c])
                x = h
            elif name == "dense":
                x = op[3](x @ op[1] + op[2])
            else:  # an activation
                x = op[1](x)
        return x, states

    def warm_up(self, primer: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run a primer ``(batch, steps)`` through the network from zero states.

        Returns the probabilities for the note after the primer, and the states there.
        """
        primer = np.atleast_2d(np.asarray(primer))
        if primer.shape[1] == 0:
            raise DataError("the primer is empty: give at least one code")
        primer = self.check_codes(primer, "primer")
        states = self.initial_states(primer.shape[0])
        for t in range(primer.shape[1]):
            probs, states = self.step(primer[:, t], states)
        return probs, states


def as_stepper(model_or_stepper) -> Stepper:
    """A :class:`Stepper` as it is, or a Keras model copied into one (once; reuse it for many pieces)."""
    return model_or_stepper if isinstance(model_or_stepper, Stepper) else Stepper(model_or_stepper)


# ----------------------------------------------------------------------------- choosing the next code


def check_choice(method: str, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise a ValueError naming the first setting of :func:`choose_next` that is out of range."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {', '.join(METHODS)}")
    if method == "sample" and not temperature > 0:
        raise ValueError(f"temperature={temperature}: must be > 0 (use method='argmax' for 0)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k={top_k}: must be at least 1")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p={top_p}: must lie in (0, 1]")


def keep_top_p(weights: np.ndarray, top_p: float) -> np.ndarray:
    """Zero all but the nucleus of each row of ``weights`` ``(batch, vocab)`` (non-negative, any sum).

    Going from the likeliest code down, codes are kept while the share of the row already
    kept is below ``top_p``: the fewest codes whose probabilities add up to ``top_p``. Codes
    tied with the last one kept are kept too (as :func:`choose_next`'s ``top_k`` keeps ties).

    >>> keep_top_p(np.array([[0.4, 0.3, 0.2, 0.1]]), 0.5).tolist()
    [[0.4, 0.3, 0.0, 0.0]]
    """
    ordered = -np.sort(-weights, axis=1)  # each row from the likeliest down
    cumulative = np.cumsum(ordered, axis=1, dtype=np.float64)
    before = cumulative - ordered  # the share kept before each code, times the row's sum
    count = (before < top_p * cumulative[:, -1:]).sum(axis=1)  # at least 1: before[:, 0] is 0
    threshold = ordered[np.arange(len(ordered)), count - 1]
    return np.where(weights >= threshold[:, None], weights, 0)


def sampling_weights(
    probs: np.ndarray, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """What sampling draws from: ``probs`` ``(batch, vocab)`` reshaped by the three knobs, in this order.

    1. ``temperature``: probabilities to the power ``1 / temperature``, renormalised;
    2. ``top_k``: all but the ``k`` likeliest codes set to 0 (ties with the k-th kept);
    3. ``top_p``: all but the likeliest codes that hold ``top_p`` of what is left set to 0.

    Returns weights that are proportional to the sampling probabilities (divide by each row's sum
    for the probabilities themselves; notebook 10 shows them for one distribution).
    """
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    logits = np.log(np.maximum(probs, MIN_PROBABILITY)) / temperature  # 1. temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))  # softmax, not yet divided by its sum
    if top_k is not None and top_k < weights.shape[1]:  # 2. top-k
        kth = np.sort(weights, axis=1)[:, -top_k]
        weights[weights < kth[:, None]] = 0.0
    if top_p is not None and top_p < 1:  # 3. top-p
        weights = keep_top_p(weights, top_p)
    return weights


def choose_next(
    probs: np.ndarray,
    rng: np.random.Generator,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Pick one code per row of ``probs`` ``(batch, vocab)``.

    Args:
        method: ``"argmax"`` (the chapter: always the likeliest) or ``"sample"``.
        temperature: sampling sharpness; below 1 favours likely notes, above 1 flattens.
        top_k: sample only among the ``k`` likeliest codes (ties with the k-th are kept).
        top_p: sample only among the likeliest codes that together hold probability ``top_p``
            in (0, 1] (nucleus sampling; 1 cuts nothing), after ``temperature`` and ``top_k``.

    Sampling draws ``rng.random((batch, 1))``: one uniform number per row, turned into a code
    by the inverse of the cumulative distribution.
    """
    check_choice(method, temperature, top_k, top_p)
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if method == "argmax":
        return probs.argmax(axis=1)
    uniforms = rng.random((probs.shape[0], 1))
    weights = sampling_weights(probs, temperature, top_k, top_p)
    cumulative = np.cumsum(weights, axis=1)  # 4. draw
    codes = (cumulative <= uniforms * cumulative[:, -1:]).sum(axis=1)
    for row in np.flatnonzero(codes >= weights.shape[1]):  # only if rounding put a draw on the total
        codes[row] = np.flatnonzero(weights[row])[-1]
    return codes


# ----------------------------------------------------------------------------- a piece


def generate_codes(
    model_or_stepper,
    primer: np.ndarray,
    n_notes: int = 500,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Continue a primer by ``n_notes`` codes, one recurrent step per note.

    Args:
        model_or_stepper: a Keras model from :mod:`helpers.models` or a :class:`Stepper`.
        primer: codes ``(steps,)`` for one piece, or ``(batch, steps)`` for several at once.
        n_notes: how many codes to generate (the chapter: 500).
        method, temperature, top_k, top_p: see :func:`choose_next`.
        seed: the same seed gives the same piece.

    Returns:
        int32 codes ``(n_notes,)``, or ``(batch, n_notes)`` for a 2-D primer.
    """
    if n_notes < 0:
        raise ValueError(f"n_notes={n_notes}: must be >= 0")
    check_choice(method, temperature, top_k, top_p)
    stepper = as_stepper(model_or_stepper)
    single = np.ndim(primer) == 1
    rng = np.random.default_rng(seed)
    probs, states = stepper.warm_up(np.atleast_2d(primer))
    out = np.empty((probs.shape[0], n_notes), dtype=np.int32)
    for t in range(n_notes):
        out[:, t] = codes = choose_next(probs, rng, method, temperature, top_k, top_p)
        if t + 1 < n_notes:
            probs, states = stepper.step(codes, states)
    return out[0] if single else out
