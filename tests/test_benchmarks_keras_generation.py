"""Smoke tests of benchmarks/keras_generation.py: the stage runs on tiny sizes and its checks mean something.

No speed is asserted (no timed unit tests): ``python -m benchmarks --stages keras-generation``
measures it. What is asserted: every row is there with positive figures, the stepper and the
Keras loop give the same argmax codes, the FLOP count is the hand count, and the verdict on the
share of the peak follows from the figures printed beside it.
"""

from __future__ import annotations

import pytest

from benchmarks import keras_generation, run

BATCH = 4


@pytest.fixture(scope="module")
def stage():
    return keras_generation.bench_keras_generation(vocab_size=30, n_notes=12, primer_steps=5, repeats=1, batch=BATCH, peak_size=128)


def test_every_row_is_there_with_positive_figures(stage):
    assert stage.values["peak_gflops"] > 0
    for name, short in (("gru", "chapter GRU"), ("sequence", "improved GRU")):
        found = {row.stage.split(", ", 1)[1] for row in stage.rows if row.stage.startswith(f"{short} vs Keras")}
        assert found == {
            "1 piece, argmax (notes/s)",
            f"{BATCH} pieces, argmax (notes/s)",
            f"{BATCH} pieces, sampling (notes/s)",
            "argmax codes agree",
            f"{BATCH} pieces, share of peak",
        }
        values = stage.values[name]
        assert set(values["rates"]) == {"stepper_one", "keras_one", "stepper_many", "keras_many", "stepper_sample", "keras_sample"}
        assert all(rate > 0 for rate in values["rates"].values())
        assert values["flops"] > 0 and values["share"] > 0 and values["keras_share"] > 0


def test_the_stepper_and_the_keras_loop_give_the_same_argmax_codes(stage):
    assert stage.values["gru"]["agree"] == 1.0 and stage.values["sequence"]["agree"] == 1.0
    agree_rows = [row for row in stage.rows if row.stage.endswith("argmax codes agree")]
    assert len(agree_rows) == 2 and all(row.passed for row in agree_rows)


def test_the_share_verdict_follows_its_figures(stage):
    peak = stage.values["peak_gflops"]
    for name, short in (("gru", "chapter GRU"), ("sequence", "improved GRU")):
        values = stage.values[name]
        assert values["share"] == pytest.approx(values["gflops"]["stepper_many"] / values["peak"]) and values["peak"] <= peak
        row = next(row for row in stage.rows if row.stage == f"{short} vs Keras, {BATCH} pieces, share of peak")
        assert row.passed is (values["share"] >= keras_generation.PEAK_SHARE_MIN)
        assert row.project == f"{values['share']:.1%}" and f"{values['peak']:,.1f} GFLOP/s" in row.note


def test_step_flops_is_two_in_out_per_matrix_product():
    from helpers import models

    model = models.build_gru_model(30, seq_length=None, input_encoding="embedding", embedding_dim=8)
    gru = 2 * (8 + 16) * 48 + 2 * (16 + 64) * 192 + 2 * (64 + 64) * 192  # (features + units) · 3 units
    dense = 2 * 64 * 16 + 2 * 16 * 30
    assert keras_generation.step_flops(model) == gru + dense


def test_the_stage_is_extra_not_default():
    assert "keras-generation" in run.EXTRA_STAGES and "keras-generation" not in run.STAGES
    assert run.parse_args(["--stages", "keras-generation"]).stages == ["keras-generation"]
