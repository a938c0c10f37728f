"""The keras-generation stage (issue 13): the project's stepper beside Keras itself done well.

    .venv/bin/python -m benchmarks --stages keras-generation

The chapter's predict-per-note loop is the slowest reference there is; this stage sets
:func:`helpers.fast_generation.generate_codes` (the NumPy carried-state stepper) beside what
a user who knows Keras would write instead: a step built from the model's own layers
(the Embedding, each recurrent layer's cell, the Dense head) with the states as explicit
inputs and outputs, run for every note inside one ``tf.function`` loop
(``jit_compile=True``, XLA, where it compiles on this machine), argmax or sampling in the
graph. Both sides run the same weights, for one piece and for :data:`BATCH` pieces; the
argmax codes of both must be the same.

Two models, untrained (generation cost does not depend on the weights; the codes agree
whatever the weights): the chapter's GRU (``build_gru_model``, 16/64/64, Dense 16) with an
embedding input, and the improved recipe (``build_sequence_model``, GRU 256/256).

Throughput is also put against this machine's arithmetic: the float32 matmul peak measured
with NumPy (:func:`matmul_peak`), and the multiply-adds of one generation step
(:func:`step_flops`, ``2 · in · out`` per matrix product, per piece). The target: at least
:data:`PEAK_SHARE_MIN` of the peak for :data:`BATCH` pieces.
"""

from __future__ import annotations

import time

import numpy as np

#: Pieces generated side by side.
BATCH = 32
#: Target: the stepper's throughput for :data:`BATCH` pieces, as a share of the matmul peak.
PEAK_SHARE_MIN = 0.30
#: Side of the square float32 matrices whose product measures the peak.
PEAK_SIZE = 2048


def matmul_peak(size: int = PEAK_SIZE, repeats: int = 5) -> float:
    """This machine's float32 matrix-product throughput with NumPy, in GFLOP/s.

    The fastest of ``repeats`` products of two ``size × size`` matrices, counted as
    ``2 · size³`` floating-point operations (all the cores NumPy's BLAS uses).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # the BLAS threads start outside the timing
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def step_flops(model) -> int:
    """Floating-point operations of one generation step of ``model``, per piece.

    ``2 · in · out`` for every matrix product: a GRU layer of ``u`` units on ``f`` inputs
    does ``2 · (f + u) · 3u``, an LSTM ``2 · (f + u) · 4u``, a Dense ``2 · in · out``. The
    embedding is a lookup (0). Gates, activations and the choice of the next code are left
    out (they are a few per unit, not per weight). The stepper looks the first layer's input
    product up in a table, so it does fewer operations than counted here: the share is of the
    model's work, the same for both sides.
    """
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN):
            kernel = layer.cell.kernel
            flops += 2 * (kernel.shape[0] + layer.cell.units) * kernel.shape[1]
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return flops


class KerasGenerator:
    """Generation with Keras done well: the model's layers stepped inside one ``tf.function``.

    The step takes the codes ``(batch,)`` and each recurrent layer's state and returns the
    logits and the new states: Embedding → each layer's ``cell`` → the Dense head (Dropout
    skipped, as at inference; the final softmax skipped: argmax and sampling work on logits;
    sampling is Gumbel-max on stateless uniforms, seeded per note).
    The whole generation, primer and notes, is one graph (a ``tf.while_loop``), compiled by
    XLA when ``jit_compile`` is true.

    Args:
        model: a model of :mod:`helpers.models` with an embedding input.
        jit_compile: compile the loop with XLA.
    """

    def __init__(self, model, jit_compile: bool = True):
        import keras
        import tensorflow as tf

        self.tf = tf
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.Dropout)]
        if not isinstance(layers[0], keras.layers.Embedding):
            raise ValueError(f"{model.name}: the Keras generator expects an embedding input, got {layers[0].name}")
        self.embedding = layers[0]
        self.recurrent = [layer for layer in layers if isinstance(layer, keras.layers.RNN)]
        last = max(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.RNN))
        self.head = [layer for layer in layers[last + 1 :] if isinstance(layer, keras.layers.Dense)]
        self.jit_compile = jit_compile
        self._functions: dict = {}

    def _step(self, codes, states):
        x = self.embedding(codes)
        new_states = []
        for layer, state in zip(self.recurrent, states):
            x, _ = layer.cell(x, [state], training=False)
            new_states.append(x)
        for dense in self.head:
            x = dense(x)
        return x, new_states

    def _function(self, method: str, batch: int):
        if (method, batch) in self._functions:  # one graph per method and batch size: no retracing
            return self._functions[method, batch]
        tf = self.tf

        def generate(primer, n_notes, seed):
            batch = tf.shape(primer)[0]
            states = [tf.zeros((batch, layer.cell.units)) for layer in self.recurrent]
            logits = tf.zeros((batch, self.head[-1].units))
            for t in tf.range(tf.shape(primer)[1]):
                logits, states = self._step(primer[:, t], states)
            out = tf.TensorArray(tf.int32, size=n_notes)
            for t in tf.range(n_notes):
                if method == "argmax":
                    codes = tf.argmax(logits, axis=-1, output_type=tf.int32)
                else:  # Gumbel-max: faster here under XLA than tf.random.stateless_categorical
                    step_seed = tf.stack([seed, tf.cast(t, tf.int32)])
                    uniforms = tf.random.stateless_uniform(tf.shape(logits), step_seed, minval=1e-20, maxval=1.0)
                    codes = tf.argmax(logits - tf.math.log(-tf.math.log(uniforms)), axis=-1, output_type=tf.int32)
                out = out.write(t, codes)
                logits, states = self._step(codes, states)
            return tf.transpose(out.stack())

        function = tf.function(generate, jit_compile=self.jit_compile)
        self._functions[method, batch] = function
        return function

    def generate(self, primer: np.ndarray, n_notes: int, method: str = "argmax", seed: int = 0) -> np.ndarray:
        """Codes ``(batch, n_notes)`` after ``primer`` ``(batch, steps)``; the first call traces."""
        tf = self.tf
        function = self._function(method, len(primer))
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # each graph is traced once, on purpose: no "retracing" warning
        try:
            codes = function(tf.constant(primer, tf.int32), tf.constant(n_notes, tf.int32), tf.constant(seed, tf.int32))
        finally:
            logger.setLevel(level)
        return codes.numpy()


def keras_generator(model) -> tuple[KerasGenerator, str]:
    """A :class:`KerasGenerator` with XLA if its loop compiles here, else without; and which."""
    generator = KerasGenerator(model, jit_compile=True)
    try:
        generator.generate(np.zeros((1, 2), np.int32), 2)
        return generator, "tf.function + XLA (jit_compile=True)"
    except Exception as error:  # noqa: BLE001 - XLA refusing for any reason: fall back, say why
        reason = str(error).strip().splitlines()[0][:80] if str(error).strip() else type(error).__name__
        return KerasGenerator(model, jit_compile=False), f"tf.function (XLA refused: {reason})"


def _time_both(stepper, generator: KerasGenerator, one: np.ndarray, many: np.ndarray, n_notes: int, repeats: int) -> dict:
    """Seconds of each side, one piece and many, argmax and sampling, taking turns (``best_of_each``)."""
    from benchmarks.run import best_of_each
    from helpers import fast_generation

    return best_of_each(
        repeats,
        {
            "stepper_one": lambda: fast_generation.generate_codes(stepper, one, n_notes, method="argmax"),
            "keras_one": lambda: generator.generate(one, n_notes, "argmax"),
            "stepper_many": lambda: fast_generation.generate_codes(stepper, many, n_notes, method="argmax"),
            "keras_many": lambda: generator.generate(many, n_notes, "argmax"),
            "stepper_sample": lambda: fast_generation.generate_codes(stepper, many, n_notes, seed=0),
            "keras_sample": lambda: generator.generate(many, n_notes, "sample", seed=0),
        },
    )


def bench_keras_generation(
    vocab_size: int = 500,
    n_notes: int = 500,
    primer_steps: int = 100,
    repeats: int = 5,
    batch: int = BATCH,
    models: tuple[str, ...] = ("gru", "sequence"),
    peak_size: int = PEAK_SIZE,
):
    """Notes/s of the stepper and of Keras done well, 1 and ``batch`` pieces; the share of the peak.

    Returns the stage (rows, lines, and ``values``: per model the rates, the argmax
    agreement, the FLOPs per step and the share; the peak).
    """
    from benchmarks.run import Row, Stage, compare, number, spread  # run.py imports this module
    from helpers import config, fast_generation
    from helpers import models as builders

    config.import_tensorflow()
    import keras

    stage = Stage()
    peak = matmul_peak(peak_size, repeats)
    measured = 1
    rng = np.random.default_rng(0)
    primers = rng.integers(0, vocab_size, size=(batch, primer_steps), dtype=np.int32)
    for name in models:
        keras.utils.set_random_seed(0)
        if name == "gru":
            model = builders.build_gru_model(vocab_size, seq_length=None, input_encoding="embedding")
            label, short = "chapter GRU 16/64/64 + embedding", "chapter GRU"
        else:
            model = builders.build_sequence_model(vocab_size, seq_length=None)
            label, short = "improved GRU 256/256", "improved GRU"
        stepper = fast_generation.Stepper(model)
        generator, how = keras_generator(model)
        one, many = primers[:1], primers

        # Same weights, argmax: the same codes on both sides.
        ours = fast_generation.generate_codes(stepper, many, n_notes, method="argmax")
        theirs = generator.generate(many, n_notes, "argmax")
        agree = float(np.mean(ours == theirs))
        generator.generate(many, n_notes, "sample")  # tracing, not timed
        generator.generate(one, n_notes, "argmax")
        generator.generate(one, n_notes, "sample")

        timed = _time_both(stepper, generator, one, many, n_notes, repeats)
        pieces = {key: 1 if key.endswith("_one") else batch for key in timed}
        rates = {key: pieces[key] * n_notes / seconds for key, (seconds, _) in timed.items()}  # notes/s
        # Every step, primer or note, runs the whole model: the arithmetic counts them all.
        flops = step_flops(model)
        gflops = {key: pieces[key] * (n_notes + primer_steps) * flops / seconds / 1e9 for key, (seconds, _) in timed.items()}
        # the machine's speed drifts (other work, clocks): the peak is the fastest seen before and after the timing
        peak, measured = max(peak, matmul_peak(peak_size, repeats)), measured + 1
        share, keras_share = gflops["stepper_many"] / peak, gflops["keras_many"] / peak
        prefix = f"{short} vs Keras"
        stage.rows += [
            compare(
                f"{prefix}, 1 piece, argmax",
                "notes/s",
                rates["keras_one"],
                rates["stepper_one"],
                note=f"{spread(timed['stepper_one'][1])}; chapter column: Keras, {how}",
            ),
            compare(
                f"{prefix}, {batch} pieces, argmax",
                "notes/s",
                rates["keras_many"],
                rates["stepper_many"],
                note=spread(timed["stepper_many"][1]),
            ),
            compare(
                f"{prefix}, {batch} pieces, sampling",
                "notes/s",
                rates["keras_sample"],
                rates["stepper_sample"],
                note=spread(timed["stepper_sample"][1]),
            ),
            Row(
                f"{prefix}, argmax codes agree",
                f"{ours.size:,} codes",
                f"{agree:.2%}",
                "",
                "100%",
                agree == 1.0,
                "the same weights; the stepper vs the Keras loop",
            ),
            Row(
                f"{prefix}, {batch} pieces, share of peak",
                f"{keras_share:.1%}",
                f"{share:.1%}",
                f"{share / keras_share:.1f}×" if keras_share > 0 else "∞",
                f"≥ {PEAK_SHARE_MIN:.0%}",
                share >= PEAK_SHARE_MIN,
                f"{gflops['stepper_many']:,.2f} of {peak:,.1f} GFLOP/s; chapter column: Keras",
            ),
        ]
        stage.lines.append(
            f"{label}: {number(model.count_params())} parameters, {flops:,} FLOP a step and piece; "
            f"{n_notes} notes after a {primer_steps}-code primer (timed with it); Keras: {how}"
        )
        stage.values[name] = {
            "rates": rates,
            "gflops": gflops,
            "agree": agree,
            "flops": flops,
            "share": share,
            "keras_share": keras_share,
            "peak": peak,
            "keras": how,
        }
    stage.lines.append(
        f"matmul peak: {peak:,.1f} GFLOP/s (NumPy float32 {peak_size}×{peak_size} product, the fastest of "
        f"{measured} × {max(1, repeats)}, measured before and after each model's timing)"
    )
    stage.values["peak_gflops"] = peak
    return stage
