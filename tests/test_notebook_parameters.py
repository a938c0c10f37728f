"""Every notebook runs to the end with other values in its parameters cell (papermill).

A reader is invited to turn the knobs of each notebook's ``parameters`` cell; these runs turn
them all at once — other temperatures, sizes, seeds, fewer files, notes and epochs (small, so
that the ten notebooks take a few minutes on 2 CPU cores) — and check that every cell still
runs. The notebooks write into a temporary folder (``MUSICGEN_OUTPUTS``), in order, so that
notebook 06 finds the run of notebook 05 and notebook 09 those of 05 and 08, and the runs and
pieces of the committed notebooks in ``outputs/`` stay as they are for nbval.
"""

from __future__ import annotations

import os

import pytest

from helpers import config

papermill = pytest.importorskip("papermill")

NOTEBOOKS = config.ROOT / "notebooks"

#: Notebook prefix → parameters that differ from the committed ones. Lists, not tuples:
#: papermill writes lists back as Python source.
CHANGED = {
    "01": {"N_FILES": 3, "SEED": 1, "PIECE": "folk_masons_apron.mid"},
    "02": {"N_FILES": 4, "SEED": 1, "ROLL_QUARTERS": 16, "TOP_N": 8, "PLAYER_SECONDS": 4, "SCORE_QUARTERS": 8},
    "03": {"SEQ_LENGTH": 32, "N_FILES": 4, "SEED": 3, "ENCODING": "chapter", "BATCH_SIZE": 16, "VAL_FRACTION": 0.3},
    "04": {"SEQ_LENGTH": 32, "N_FILES": 4, "SEED": 3, "TOY_FEATURES": 2, "TOY_UNITS": 3, "TOY_STEPS": 4,
           "UNITS": [8, 16], "DROPOUT": 0.0, "DENSE_UNITS": 8},
    # 05, 08 and 09 share the sample (6 files, seed 7) so that 09 judges 05's run on 08's held-out pieces
    "05": {"N_FILES": 6, "SEQ_LENGTH": 32, "EPOCHS": 1, "BATCH_SIZE": 32, "UNITS": [8, 16], "DROPOUT": 0.1,
           "DENSE_UNITS": 8, "INPUT_ENCODING": "embedding"},
    "06": {"N_NOTES": 60, "N_CHAPTER_NOTES": 5, "TEMPERATURES": [0.8, 1.2], "TEMPERATURE": 0.9, "TOP_K": 5,
           "INSTRUMENT": "Violin", "SEED": 1, "ROLL_QUARTERS": 16, "PLAYER_SECONDS": 4, "SCORE_QUARTERS": 4},
    "07": {"N_FILES": 5, "EPOCHS": 1, "SEQ_LENGTH": 32, "GRU_UNITS": [8], "GRU_DENSE": 8, "DROPOUT": 0.0,
           "LSTM_UNITS": [16, 16], "LSTM_DENSE": 8, "N_NOTES": 40, "PLAYER_SECONDS": 4},
    "08": {"N_FILES": 6, "EPOCHS": 1, "EARLY_STOPPING": 2, "UNITS": [32], "EMBEDDING_DIM": 16, "DROPOUT": 0.1,
           "LEARNING_RATE": 0.003, "SEQ_LENGTH": 64, "BATCH_SIZE": 16, "N_NOTES": 40, "TEMPERATURE": 0.9,
           "INSTRUMENT": "Violin", "PLAYER_SECONDS": 4},
    "09": {"N_FILES": 6, "CHAPTER_EPOCHS": 1, "N_NOTES": 40, "SAMPLES": 2, "TEMPERATURES": [0.7, 1.3],
           "TOP_KS": [None, 3], "SEED": 1, "ROLL_QUARTERS": 16, "PLAYER_SECONDS": 4},
    "10": {"PRIMER": "folk_masons_apron.mid", "TEMPERATURE": 1.4, "TOP_K": 8, "TOP_P": 0.9, "N_NOTES": 40, "SEED": 2,
           "INSTRUMENT": "Violin"},
}


def repository_outputs() -> dict[str, float]:
    """Name → modification time of the runs, pieces and figures in the repository's outputs/."""
    folders = [config.ROOT / "outputs" / name for name in ("runs", "generated", "figures")]
    return {f"{f.name}/{p.name}": p.stat().st_mtime for f in folders if f.is_dir() for p in f.iterdir()}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """One temporary outputs folder for the whole series, named to the kernels by MUSICGEN_OUTPUTS."""
    folder = tmp_path_factory.mktemp("outputs")
    saved = os.environ.get(config.OUTPUTS_VARIABLE)
    os.environ[config.OUTPUTS_VARIABLE] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop(config.OUTPUTS_VARIABLE, None)
    else:
        os.environ[config.OUTPUTS_VARIABLE] = saved


def test_every_notebook_has_an_entry():
    assert sorted(CHANGED) == sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("prefix", sorted(CHANGED))
def test_notebook_runs_with_changed_parameters(prefix, outputs):
    (source,) = NOTEBOOKS.glob(f"{prefix}_*.ipynb")
    before = repository_outputs()
    (outputs / "notebooks").mkdir(exist_ok=True)
    executed = papermill.execute_notebook(
        str(source), str(outputs / "notebooks" / source.name), parameters=CHANGED[prefix],
        cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False, log_output=False,
        start_timeout=120, execution_timeout=600,
    )
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and all(name in injected[0].source for name in CHANGED[prefix])
    assert all(c.get("outputs") is not None for c in executed.cells if c.cell_type == "code")
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert repository_outputs() == before, "the run wrote into the repository's outputs/"
