"""Generate token codes from a trained model, one recurrent step per new note.

Explained in notebook 06 (and the GRU step itself in notebook 04).

The chapter calls ``model.predict`` on the whole 100-step window for every new note: 100
recurrent steps and a Keras call (about 75 ms on 2 CPU cores) to get one note. A recurrent
network does not need that: its state after the window already summarises it. Here the
trained weights are copied into NumPy, the primer is run through once, and each new note
costs one step of each layer with the state carried — microseconds, and a batch of pieces
costs hardly more than one.

This module needs no TensorFlow: it reads the weights of any Keras model built by
:mod:`helpers.models` (GRU or LSTM, scaled or embedding input).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

METHODS = ("sample", "argmax")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # the same function, without overflow warnings


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "softmax": _softmax,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
}


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


class Stepper:
    """A trained Keras model, copied into NumPy so that it can run one time step at a time.

    >>> stepper = Stepper(model)                     # doctest: +SKIP
    >>> probs, states = stepper.warm_up(primer)      # primer: (batch, steps) codes
    >>> probs, states = stepper.step(codes, states)  # codes: (batch,), one new note each
    """

    def __init__(self, model):
        self.ops: list[tuple] = []
        self.state_sizes: list[tuple[int, ...]] = []
        for layer in model.layers:
            kind = type(layer).__name__
            weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
            config = layer.get_config()
            if kind in ("InputLayer", "Dropout"):
                continue  # dropout does nothing at generation time
            if kind == "ScaleCodes":
                self.ops.append(("scale", float(layer.vocab_size)))
            elif kind == "Embedding":
                self.ops.append(("embed", weights[0]))
            elif kind in ("GRU", "LSTM"):
                if config.get("activation") != "tanh" or config.get("recurrent_activation") != "sigmoid":
                    raise NotImplementedError(f"{layer.name}: only tanh/sigmoid activations are supported")
                if kind == "GRU":
                    self.ops.append(("gru", len(self.state_sizes), weights, bool(config.get("reset_after", True))))
                    self.state_sizes.append((layer.units,))
                else:
                    self.ops.append(("lstm", len(self.state_sizes), weights))
                    self.state_sizes.append((2, layer.units))
            elif kind == "Dense":
                self.ops.append(("dense", weights[0], weights[1] if len(weights) > 1 else 0.0, _activation(config)))
            elif kind == "Activation":
                self.ops.append(("activation", _activation(config)))
            else:
                raise NotImplementedError(f"layer {layer.name} ({kind}) cannot be stepped")
        if not self.state_sizes:
            raise ValueError("the model has no recurrent layer")

    def initial_states(self, batch: int) -> list[np.ndarray]:
        """Zero states, as Keras starts every window."""
        return [np.zeros((*size[:-1], batch, size[-1]), dtype=np.float32) for size in self.state_sizes]

    def step(self, codes: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one code per sequence ``(batch,)``; return probabilities ``(batch, vocab)`` and new states."""
        codes = np.asarray(codes)
        x: np.ndarray = codes
        states = list(states)
        for op in self.ops:
            name = op[0]
            if name == "scale":
                x = (codes.astype(np.float32) / op[1])[:, None]
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
            else:
                x = op[1](x)
        return x, states

    def warm_up(self, primer: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run a primer ``(batch, steps)`` through the network from zero states.

        Returns the probabilities for the note after the primer, and the states there.
        """
        primer = np.atleast_2d(np.asarray(primer))
        if primer.shape[1] == 0:
            raise ValueError("the primer is empty: give at least one code")
        states = self.initial_states(primer.shape[0])
        for t in range(primer.shape[1]):
            probs, states = self.step(primer[:, t], states)
        return probs, states


def _activation(config: dict) -> Callable[[np.ndarray], np.ndarray]:
    name = config.get("activation", "linear")
    if name not in _ACTIVATIONS:
        raise NotImplementedError(f"activation {name!r} cannot be stepped")
    return _ACTIVATIONS[name]


def choose_next(
    probs: np.ndarray,
    rng: np.random.Generator,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
) -> np.ndarray:
    """Pick one code per row of ``probs`` ``(batch, vocab)``.

    Args:
        method: ``"argmax"`` (the chapter: always the likeliest) or ``"sample"``.
        temperature: sampling sharpness; below 1 favours likely notes, above 1 flattens.
        top_k: sample only among the ``k`` likeliest codes.
    """
    if method == "argmax":
        return probs.argmax(axis=-1)
    if method != "sample":
        raise ValueError(f"method={method!r}: expected one of {', '.join(METHODS)}")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature}: must be > 0 (use method='argmax' for 0)")
    logits = np.log(np.maximum(probs.astype(np.float64), 1e-30)) / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k={top_k}: must be at least 1")
        if top_k < logits.shape[-1]:
            cutoff = np.partition(logits, -top_k, axis=-1)[:, -top_k][:, None]
            logits = np.where(logits >= cutoff, logits, -np.inf)
    weights = _softmax(logits)
    cumulative = np.cumsum(weights, axis=-1)
    draws = rng.random((weights.shape[0], 1)) * cumulative[:, -1:]  # scaled: rounding never picks a 0-weight code
    return (cumulative <= draws).sum(axis=-1)


def generate_codes(
    model_or_stepper,
    primer: np.ndarray,
    n_notes: int = 500,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Continue a primer by ``n_notes`` codes, one recurrent step per note.

    Args:
        model_or_stepper: a Keras model from :mod:`helpers.models` or a :class:`Stepper`.
        primer: codes ``(steps,)`` for one piece, or ``(batch, steps)`` for several at once.
        n_notes: how many codes to generate (the chapter: 500).
        method, temperature, top_k: see :func:`choose_next`.
        seed: the same seed gives the same piece.

    Returns:
        int32 codes ``(n_notes,)``, or ``(batch, n_notes)`` for a 2-D primer.
    """
    if n_notes < 0:
        raise ValueError(f"n_notes={n_notes}: must be >= 0")
    stepper = model_or_stepper if isinstance(model_or_stepper, Stepper) else Stepper(model_or_stepper)
    single = np.ndim(primer) == 1
    rng = np.random.default_rng(seed)
    probs, states = stepper.warm_up(primer)
    out = np.empty((probs.shape[0], n_notes), dtype=np.int32)
    for t in range(n_notes):
        out[:, t] = choose_next(probs, rng, method, temperature, top_k)
        if t + 1 < n_notes:
            probs, states = stepper.step(out[:, t], states)
    return out[0] if single else out


def chapter_generate_codes(model, primer: np.ndarray, n_notes: int = 500) -> np.ndarray:
    """The chapter's generation loop, kept for comparison: ``model.predict`` on the whole
    sliding window for every note, argmax. Slow by design; see :func:`generate_codes`."""
    pattern = np.asarray(primer, dtype=np.int32).copy()
    out = np.empty(n_notes, dtype=np.int32)
    for t in range(n_notes):
        probs = model.predict(pattern[None, :], verbose=0)
        out[t] = int(np.argmax(probs))
        pattern = np.append(pattern[1:], out[t])
    return out
