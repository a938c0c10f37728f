"""The generation step of :mod:`helpers.generation`, made some 2-3x faster; same interface.

The pipeline and the command line use this module; notebook 06 teaches the plain one.
:class:`Stepper` is a :class:`helpers.generation.Stepper` whose :meth:`~Stepper.step`,
:meth:`~Stepper.warm_up` and :func:`generate_codes` give the same results up to float32
rounding (``tests/test_generation.py`` checks the same seed gives the same codes).

Why it is faster: at one piece a step is some 50,000 multiply-adds, and the time goes into
the *number* of NumPy calls (about 0.3 µs each). So the weights are rearranged once and each
step is a fixed sequence of in-place float32 calls on buffers allocated once per batch size:

- the first layer's input projection ``x W + b`` is looked up in a table, one row per code;
- later layers do one matrix product on ``[x | h]`` (kernels stacked, biases folded), the
  states kept side by side, one column per piece, so ``[x | h]`` is a view;
- gate signs are folded into the weights: a sigmoid is three in-place calls;
- the final softmax is skipped: choosing works on the logits, a batch sampled in two levels
  (sums of blocks of :data:`SAMPLE_BLOCK` codes, then the codes of the chosen block).

``python -m benchmarks --stages generation`` measures it against the chapter's loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from helpers import generation
from helpers.errors import DataError
from helpers.generation import ACTIVATIONS, MIN_PROBABILITY, check_choice, gru_step, keep_top_p

#: Codes per block when a batch is sampled in two levels (blocks, then codes in the block).
SAMPLE_BLOCK = 32
#: Batch sizes whose buffers a :class:`Stepper` keeps ready.
_KEPT_WORKSPACES = 4

_F32 = np.float32
_softmax = ACTIVATIONS["softmax"]
_sigmoid = ACTIVATIONS["sigmoid"]


# ----------------------------------------------------------------------------- fused weights


class _Recurrent:
    """One recurrent layer, its weights rearranged for the fused step.

    ``x_part`` ``(features, width)``, ``h_part`` ``(units, width)`` and ``bias`` ``(width,)``
    give the pre-activations ``a = x @ x_part + h @ h_part + bias`` of one step, in the layout
    the step expects:

    - GRU (``reset_after=True``): ``[x W_c + b_xc | -(z, r pre-activations) | h U_c + b_hc]``,
      width ``4 * units``; the candidate needs ``x W_c`` and ``h U_c`` apart, since ``r``
      multiplies the second only.
    - LSTM: ``[-i | -f | -o | cell]``, width ``4 * units``.

    The signs make ``sigmoid(a) = 1 / (1 + exp(-a))`` one ``exp`` of the stored number.
    A GRU with ``reset_after=False`` is stepped by :func:`gru_step` itself (``fused=False``).
    """

    def __init__(self, kind: str, weights: list[np.ndarray], units: int, reset_after: bool = True):
        self.kind, self.units = kind, units
        self.weights = weights  # float32, as Keras holds them
        self.fused = kind == "lstm" or reset_after
        self.reset_after = reset_after
        if not self.fused:
            return
        kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in weights)
        u = units
        features = kernel.shape[0]
        x_part = np.zeros((features, 4 * u))
        h_part = np.zeros((u, 4 * u))
        if kind == "gru":
            bias_x, bias_h = bias
            x_part[:, :u] = kernel[:, 2 * u :]
            x_part[:, u : 3 * u] = -kernel[:, : 2 * u]
            h_part[:, u : 3 * u] = -recurrent[:, : 2 * u]
            h_part[:, 3 * u :] = recurrent[:, 2 * u :]
            fused_bias = np.concatenate([bias_x[2 * u :], -(bias_x[: 2 * u] + bias_h[: 2 * u]), bias_h[2 * u :]])
        else:  # Keras' order i, f, cell, o → [-i, -f, -o, cell]
            order = [slice(0, u), slice(u, 2 * u), slice(3 * u, 4 * u), slice(2 * u, 3 * u)]
            signs = [-1.0, -1.0, -1.0, 1.0]
            fused_bias = np.zeros(4 * u)
            for block, (source, sign) in enumerate(zip(order, signs)):
                x_part[:, block * u : (block + 1) * u] = sign * kernel[:, source]
                h_part[:, block * u : (block + 1) * u] = sign * recurrent[:, source]
                fused_bias[block * u : (block + 1) * u] = sign * bias[source]
        self.x_part, self.h_part, self.bias = x_part, h_part, fused_bias
        # Transposed for the workspace, which keeps one column per piece.
        self.stacked_t = np.ascontiguousarray(np.vstack([x_part, h_part]).T, dtype=_F32)  # columns: [x | h]
        self.h_part_t = np.ascontiguousarray(h_part.T, dtype=_F32)
        self.bias_t = fused_bias.astype(_F32)[:, None]

    def table(self, features: np.ndarray) -> np.ndarray:
        """Input projections ``features @ x_part + bias`` ``(n_codes, width)`` of every code."""
        return (features @ self.x_part + self.bias).astype(_F32)


def _in_place(name: str) -> Callable[[np.ndarray], None]:
    """An activation applied in place, for the head's buffers."""
    if name == "relu":
        return lambda x: np.maximum(x, 0.0, out=x)
    if name == "tanh":
        return lambda x: np.tanh(x, out=x)
    if name == "sigmoid":
        return lambda x: np.copyto(x, _sigmoid(x))
    if name == "softmax":
        return lambda x: np.copyto(x, _softmax(x))
    return lambda x: None


class _Workspace:
    """Buffers for one batch size, and the fused step bound to them.

    The recurrent layers work *transposed*, one column per piece: ``states`` holds every
    layer's ``h`` stacked ``(sum of units, batch)``, so that a layer's ``[x | h]`` is a block
    of rows (a view, nothing copied) and every gate is a contiguous block of rows, where
    NumPy's vectorised loops apply (column slices of a ``(batch, units)`` array are strided
    and several times slower). LSTM cells are kept apart. ``step(codes)`` returns the output
    buffer ``(batch, width)`` (logits when the model ends in a softmax), valid until the next
    call.
    """

    def __init__(self, stepper: Stepper, batch: int):
        self.batch = batch
        units = [layer.units for layer in stepper.recurrent]
        starts = np.concatenate([[0], np.cumsum(units)]).astype(int)
        self.states = np.zeros((int(starts[-1]), batch), dtype=_F32)
        self.h = [self.states[starts[k] : starts[k + 1]] for k in range(len(units))]
        self.cells = [
            np.zeros((layer.units, batch), dtype=_F32) if layer.kind == "lstm" else None for layer in stepper.recurrent
        ]
        self.layer_steps = []
        for k, layer in enumerate(stepper.recurrent):
            if k == 0:
                source = None  # from the table, or from the codes' features
            else:
                source = self.states[starts[k - 1] : starts[k + 1]] if layer.fused else self.h[k - 1]
            self.layer_steps.append(self._bind(stepper, k, layer, source))
        x = self.h[-1].T  # (batch, units), a transposed view: matmul reads it as it is
        self.head_steps = []
        for weight, bias, activation in stepper.head:
            out = np.empty((batch, weight.shape[1]), dtype=_F32)
            self.head_steps.append(self._bind_dense(x, weight, bias, _in_place(activation), out))
            x = out
        self.out = x if stepper.head else np.empty((batch, units[-1]), dtype=_F32)
        self.copy_out = not stepper.head  # no head: the output is the last state, copied

    def _bind(self, stepper: Stepper, k: int, layer: _Recurrent, source):
        matmul, add, exp, reciprocal = np.matmul, np.add, np.exp, np.reciprocal
        multiply, subtract, tanh = np.multiply, np.subtract, np.tanh
        one = _F32(1.0)
        h, u, batch = self.h[k], layer.units, self.batch
        if not layer.fused:  # a GRU with reset_after=False: the plain step
            kernel, recurrent, bias = layer.weights
            features = stepper.features

            def plain(codes):
                x = features(codes) if source is None else source.T
                h[...] = gru_step(x, h.T, kernel, recurrent, bias, reset_after=False).T

            return plain
        a = np.empty((4 * u, batch), dtype=_F32)
        table = stepper.table if k == 0 else None
        weight = layer.h_part_t if k == 0 else layer.stacked_t
        matrix_in = h if k == 0 else source
        bias = layer.bias_t
        if layer.kind == "gru":
            xc, gates, z, r, hc = a[:u], a[u : 3 * u], a[u : 2 * u], a[2 * u : 3 * u], a[3 * u :]

            def gru(codes):
                matmul(weight, matrix_in, out=a)
                add(a, table[codes].T if table is not None else bias, out=a)
                exp(gates, out=gates)  # sigmoid: the signs are in the weights
                add(gates, one, out=gates)
                reciprocal(gates, out=gates)  # z and r
                multiply(r, hc, out=hc)
                add(hc, xc, out=hc)
                tanh(hc, out=hc)  # the candidate
                subtract(h, hc, out=xc)
                multiply(xc, z, out=xc)
                add(hc, xc, out=h)  # h = z * h + (1 - z) * candidate

            return gru
        c = self.cells[k]
        gates, i, f, o, cell = a[: 3 * u], a[:u], a[u : 2 * u], a[2 * u : 3 * u], a[3 * u :]

        def lstm(codes):
            matmul(weight, matrix_in, out=a)
            add(a, table[codes].T if table is not None else bias, out=a)
            exp(gates, out=gates)
            add(gates, one, out=gates)
            reciprocal(gates, out=gates)  # i, f, o
            tanh(cell, out=cell)
            multiply(f, c, out=c)
            multiply(i, cell, out=cell)
            add(c, cell, out=c)
            tanh(c, out=i)
            multiply(o, i, out=h)

        return lstm

    @staticmethod
    def _bind_dense(x, weight, bias, activation, out):
        matmul, add = np.matmul, np.add

        def dense():
            matmul(x, weight, out=out)
            add(out, bias, out=out)
            activation(out)

        return dense

    def reset(self) -> None:
        """Zero states, as Keras starts every window."""
        self.states.fill(0.0)
        for c in self.cells:
            if c is not None:
                c.fill(0.0)

    def advance(self, codes: np.ndarray) -> None:
        """One step of every recurrent layer, without the head."""
        for layer_step in self.layer_steps:
            layer_step(codes)

    def step(self, codes: np.ndarray) -> np.ndarray:
        """One step; returns the output buffer ``(batch, width)``."""
        for layer_step in self.layer_steps:
            layer_step(codes)
        for head_step in self.head_steps:
            head_step()
        if self.copy_out:
            self.out[...] = self.h[-1].T
        return self.out

    def run_primer(self, primer: np.ndarray) -> np.ndarray:
        """Zero the states, run ``primer`` ``(batch, steps)``; returns the output after it."""
        self.reset()
        for t in range(primer.shape[1] - 1):
            self.advance(primer[:, t])
        return self.step(primer[:, -1])

    def load(self, states: list[np.ndarray], stepper: Stepper) -> None:
        for k, (state, layer) in enumerate(zip(states, stepper.recurrent)):
            if layer.kind == "lstm":
                self.h[k][...] = np.asarray(state[0]).T
                self.cells[k][...] = np.asarray(state[1]).T
            else:
                self.h[k][...] = np.asarray(state).T

    def dump(self, stepper: Stepper) -> list[np.ndarray]:
        return [
            np.stack([self.h[k].T, self.cells[k].T]) if layer.kind == "lstm" else self.h[k].T.copy()
            for k, layer in enumerate(stepper.recurrent)
        ]


class Stepper(generation.Stepper):
    """A :class:`helpers.generation.Stepper` with the fused step (see the module docstring).

    >>> stepper = Stepper(model)                     # doctest: +SKIP
    >>> probs, states = stepper.warm_up(primer)      # primer: (batch, steps) codes
    >>> probs, states = stepper.step(codes, states)  # codes: (batch,), one new note each

    Args:
        model: a Keras model, or a plain :class:`helpers.generation.Stepper` to speed up.
    """

    def __init__(self, model):
        if isinstance(model, generation.Stepper):  # its layers are read already
            self.__dict__.update(vars(model))
        else:
            super().__init__(model)
        self._prepare()
        self._workspaces: OrderedDict[int, _Workspace] = OrderedDict()

    # ------------------------------------------------------------------ preparation

    def _prepare(self) -> None:
        """Split the ops (checked by the plain stepper) into input, recurrent layers and head;
        build the first layer's table."""
        names = [op[0] for op in self.ops]
        last = max(i for i, name in enumerate(names) if name in ("gru", "lstm"))
        source = self.ops[0]
        self.recurrent: list[_Recurrent] = []
        for op in self.ops[1 : last + 1]:
            if op[0] == "gru":
                self.recurrent.append(_Recurrent("gru", op[2], op[2][1].shape[0], reset_after=op[3]))
            else:
                self.recurrent.append(_Recurrent("lstm", op[2], op[2][1].shape[0]))
        # The head: Dense/Activation ops; a final softmax is left out (sampling uses logits).
        head_ops = [list(op) for op in self.ops[last + 1 :]]
        self.outputs_logits = False
        if head_ops and head_ops[-1][0] == "activation" and head_ops[-1][1] is _softmax:
            head_ops.pop()
            self.outputs_logits = True
        elif head_ops and head_ops[-1][0] == "dense" and head_ops[-1][3] is _softmax:
            head_ops[-1][3] = ACTIVATIONS["linear"]
            self.outputs_logits = True
        self.head: list[tuple[np.ndarray, np.ndarray, str]] = []
        for op in head_ops:
            if op[0] == "dense":
                weight = np.asarray(op[1], dtype=_F32)
                bias = np.broadcast_to(np.asarray(op[2], dtype=_F32), (weight.shape[1],)).copy()
                self.head.append((weight, bias, _activation_name(op[3])))
            elif self.head:  # an activation after a Dense: apply it to that Dense's output
                weight, bias, name = self.head[-1]
                if name != "linear":
                    raise NotImplementedError("two activations in a row cannot be stepped")
                self.head[-1] = (weight, bias, _activation_name(op[1]))
            else:
                raise NotImplementedError("an activation right after the last recurrent layer cannot be stepped")
        if self.outputs_logits and self.width % SAMPLE_BLOCK:
            # Pad the logits to whole sampling blocks with -inf: probability 0, never picked.
            weight, bias, name = self.head[-1]
            padding = -self.width % SAMPLE_BLOCK
            weight = np.pad(weight, ((0, 0), (0, padding)))
            bias = np.concatenate([bias, np.full(padding, -np.inf, dtype=_F32)])
            self.head[-1] = (weight, bias, name)
        # Codes → first-layer inputs: one row per code.
        if source[0] == "scale":
            scale = np.float32(source[1])
            self._features = lambda codes: (np.asarray(codes).astype(_F32) / scale)[:, None]
        else:
            embedding = source[1]
            self._features = lambda codes: embedding[np.asarray(codes)]
        all_features = self._features(np.arange(self.n_codes)).astype(np.float64)
        first_layer = self.recurrent[0]
        self.table = first_layer.table(all_features) if first_layer.fused else None

    def features(self, codes: np.ndarray) -> np.ndarray:
        """What the first recurrent layer sees for ``codes`` ``(batch,)``: ``(batch, features)``."""
        return self._features(codes)

    def _workspace(self, batch: int) -> _Workspace:
        workspace = self._workspaces.pop(batch, None) or _Workspace(self, batch)
        self._workspaces[batch] = workspace  # most recently used last
        while len(self._workspaces) > _KEPT_WORKSPACES:
            self._workspaces.popitem(last=False)
        return workspace

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        out = out[:, : self.width]
        return _softmax(out) if self.outputs_logits else out.copy()

    # ------------------------------------------------------------------ public steps

    def step(self, codes: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one code per sequence ``(batch,)``; return probabilities ``(batch, vocab)`` and new states.

        The states passed in are not changed.
        """
        codes = self.check_codes(np.atleast_1d(codes), "codes")
        workspace = self._workspace(codes.shape[0])
        workspace.load(states, self)
        with np.errstate(over="ignore"):  # exp overflowing to inf is a sigmoid of 0: fine
            out = workspace.step(codes)
        return self._probabilities(out), workspace.dump(self)

    def warm_up(self, primer: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run a primer ``(batch, steps)`` through the network from zero states.

        Returns the probabilities for the note after the primer, and the states there.
        """
        primer = np.atleast_2d(np.asarray(primer))
        if primer.shape[1] == 0:
            raise DataError("the primer is empty: give at least one code")
        primer = self.check_codes(primer, "primer")
        workspace = self._workspace(primer.shape[0])
        with np.errstate(over="ignore"):
            out = workspace.run_primer(primer)
        return self._probabilities(out), workspace.dump(self)


def _activation_name(function: Callable) -> str:
    return next(name for name, candidate in ACTIVATIONS.items() if candidate is function)


# ----------------------------------------------------------------------------- choosing codes


class _Chooser:
    """Picks one code per row of a ``(batch, width)`` buffer of logits or probabilities.

    Sampling draws one uniform number per row and inverts the cumulative distribution of
    ``softmax(logits / temperature)``, cut by ``top_k`` then ``top_p`` as in
    :func:`helpers.generation.choose_next`; a code of probability 0 (cut, or padding) is never
    picked. One row is inverted with ``cumsum`` and ``searchsorted``; a batch in two
    levels — sums of blocks of :data:`SAMPLE_BLOCK` codes, then the codes of the chosen block —
    since ``cumsum`` along rows costs about 3 ns a number in NumPy.

    Args:
        width: the number of codes.
        logits: the buffers passed in are logits padded with ``-inf`` to whole blocks
            (what :class:`Stepper` gives), else probabilities ``(batch, width)``.
    """

    def __init__(
        self, batch: int, width: int, method: str, temperature: float, top_k: int | None, top_p: float | None,
        logits: bool,
    ):
        check_choice(method, temperature, top_k, top_p)
        self.top_p = top_p if top_p is not None and top_p < 1 else None
        self.method, self.logits = method, logits
        self.batch, self.width = batch, width
        self.scale = 1.0 / float(temperature) if method == "sample" else 1.0
        self.top_k = top_k if top_k is not None and top_k < width else None
        if method == "argmax":
            return
        blocks = -(-width // SAMPLE_BLOCK)
        self.padded = np.zeros((batch, blocks * SAMPLE_BLOCK), dtype=_F32)  # padding: weight 0
        self.weights = self.padded if logits else self.padded[:, :width]
        self.maxima = np.empty((batch, 1), dtype=_F32)
        if batch == 1:
            self.cumulative = np.empty(self.weights.shape[1], dtype=np.float64)
        else:
            self.blocks3 = self.padded.reshape(batch, blocks, SAMPLE_BLOCK)
            self.block_sums = np.empty((batch, blocks), dtype=_F32)
            self.block_cumulative = np.zeros((batch, blocks + 1), dtype=np.float64)  # column 0 stays 0
            self.rows = np.arange(batch)
            self.triangle = np.triu(np.ones((SAMPLE_BLOCK, SAMPLE_BLOCK), dtype=_F32))  # x @ it: cumsum of x

    def __call__(self, out: np.ndarray, uniforms: np.ndarray | None) -> np.ndarray:
        """Codes ``(batch,)`` for ``out``; ``uniforms`` ``(batch,)`` in [0, 1) when sampling."""
        if self.method == "argmax":
            return out.argmax(axis=1)
        w = self.weights
        if self.logits:
            np.max(out, axis=1, keepdims=True, out=self.maxima)
            np.subtract(out, self.maxima, out=w)
        else:  # probabilities: their logs are logits
            np.maximum(out, MIN_PROBABILITY, out=w)
            np.log(w, out=w)
            np.subtract(w, w.max(axis=1, keepdims=True), out=w)
        if self.scale != 1.0:
            np.multiply(w, self.scale, out=w)
        if self.top_k is not None:
            kth = w.shape[1] - self.top_k
            cutoff = np.partition(w, kth, axis=1)[:, kth : kth + 1]
            np.copyto(w, -np.inf, where=w < cutoff)
        np.exp(w, out=w)
        if self.top_p is not None:
            np.copyto(w, keep_top_p(w, self.top_p))
        if self.batch == 1:
            cumulative = np.cumsum(w[0], dtype=np.float64, out=self.cumulative)
            code = int(cumulative.searchsorted(uniforms[0] * cumulative[-1], side="right"))
            if code >= self.width:  # only if rounding put the draw on the total
                code = int(np.flatnonzero(w[0])[-1])
            return np.array([code])
        return self._sample_batch(uniforms)

    def _sample_batch(self, uniforms: np.ndarray) -> np.ndarray:
        sums, cumulative, rows = self.block_sums, self.block_cumulative, self.rows
        np.sum(self.blocks3, axis=2, out=sums)
        np.cumsum(sums, axis=1, out=cumulative[:, 1:])
        draws = uniforms * cumulative[:, -1]
        block = (cumulative[:, 1:] <= draws[:, None]).sum(axis=1)
        overflow = block >= sums.shape[1]
        np.minimum(block, sums.shape[1] - 1, out=block)
        rest = draws - cumulative[rows, block]  # >= 0: cumulative[block] <= draw
        inner = self.blocks3[rows, block] @ self.triangle  # running sums in the block, as a product
        index = (inner <= rest[:, None]).sum(axis=1)
        overflow |= index >= SAMPLE_BLOCK
        np.minimum(index, SAMPLE_BLOCK - 1, out=index)
        codes = block * SAMPLE_BLOCK + index
        overflow |= self.weights[rows, codes] == 0  # a product's rounding is not monotone: be sure
        if overflow.any():  # rounding put a draw past its block: do those rows in one level
            for row in np.flatnonzero(overflow):
                weights = self.weights[row].astype(np.float64)
                total = np.cumsum(weights)
                code = int(total.searchsorted(uniforms[row] * total[-1], side="right"))
                codes[row] = code if code < self.width else int(np.flatnonzero(weights)[-1])
        return codes


def choose_next(
    probs: np.ndarray,
    rng: np.random.Generator,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """:func:`helpers.generation.choose_next` with the fast chooser: the same draws, in float32."""
    probs = np.atleast_2d(np.asarray(probs, dtype=_F32))
    chooser = _Chooser(probs.shape[0], probs.shape[1], method, temperature, top_k, top_p, logits=False)
    uniforms = rng.random((probs.shape[0], 1))[:, 0] if method == "sample" else None
    return chooser(probs, uniforms)


def as_stepper(model_or_stepper) -> Stepper:
    """A :class:`Stepper` as it is; a Keras model or a plain stepper made into one (once; reuse it)."""
    return model_or_stepper if isinstance(model_or_stepper, Stepper) else Stepper(model_or_stepper)


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
    """:func:`helpers.generation.generate_codes` with the fused step: the same codes for a seed.

    Args:
        model_or_stepper: a Keras model from :mod:`helpers.models`, or a stepper of either module.
        primer: codes ``(steps,)`` for one piece, or ``(batch, steps)`` for several at once.
        n_notes: how many codes to generate (the chapter: 500).
        method, temperature, top_k, top_p: see :func:`helpers.generation.choose_next`.
        seed: the same seed gives the same piece.

    Returns:
        int32 codes ``(n_notes,)``, or ``(batch, n_notes)`` for a 2-D primer.
    """
    if n_notes < 0:
        raise ValueError(f"n_notes={n_notes}: must be >= 0")
    check_choice(method, temperature, top_k, top_p)
    stepper = as_stepper(model_or_stepper)
    single = np.ndim(primer) == 1
    primer = np.atleast_2d(np.asarray(primer))
    if primer.shape[1] == 0:
        raise DataError("the primer is empty: give at least one code")
    primer = stepper.check_codes(primer, "primer")
    batch = primer.shape[0]
    workspace = stepper._workspace(batch)
    chooser = _Chooser(batch, stepper.width, method, temperature, top_k, top_p, stepper.outputs_logits)
    rng = np.random.default_rng(seed)
    # The same numbers as one rng.random((batch, 1)) per note, drawn at once.
    uniforms = rng.random((n_notes, batch)) if method == "sample" else [None] * n_notes
    out = np.empty((batch, n_notes), dtype=np.int32)
    with np.errstate(over="ignore"):  # exp overflowing to inf is a sigmoid of 0: fine
        logits = workspace.run_primer(primer)
        for t in range(n_notes):
            codes = chooser(logits, uniforms[t])
            out[:, t] = codes
            if t + 1 < n_notes:
                logits = workspace.step(codes)
    return out[0] if single else out


