"""Tests of helpers.progress: the progress line of long cells, driven by a run's history.csv."""

from __future__ import annotations

import os
import time

import pytest

from helpers import progress


class Recorder:
    """Stands in for IPython's display: records every shown bundle by display id."""

    def __init__(self):
        self.shown: list[tuple[str, str]] = []

    def __call__(self, text, display_id=None):
        display_id = display_id or f"id{len(self.shown)}"
        self.shown.append((display_id, text))
        return display_id


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(progress, "_display", recorder)
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.02)
    return recorder


def write_history(path, rows, header="epoch,loss,seconds,val_loss"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_history_line_reports_the_last_epoch(tmp_path):
    path = write_history(tmp_path / "history.csv", ["0,5.5,1.0,5.9", "1,5.1234,1.0,5.8766"])
    assert progress.history_line(path, 12) == "epoch 2/12 · loss 5.123 · val_loss 5.877"
    assert progress.history_line(path) == "epoch 2 · loss 5.123 · val_loss 5.877"
    no_validation = write_history(tmp_path / "b.csv", ["0,4.0,1.0"], header="epoch,loss,seconds")
    assert progress.history_line(no_validation, 3) == "epoch 1/3 · loss 4.000"
    empty = tmp_path / "c.csv"
    empty.write_text("")
    assert progress.history_line(empty, 3) == "epoch 0/3"


def test_newest_history_ignores_files_older_than_the_start(tmp_path):
    old = write_history(tmp_path / "gru-001" / "history.csv", ["0,5,1,5"])
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert progress.newest_history(tmp_path, time.time() - 10) is None
    new = write_history(tmp_path / "compare-gru-001" / "history.csv", ["0,5,1,5"])
    assert progress.newest_history(tmp_path, time.time() - 10) == new
    assert progress.newest_history(tmp_path / "missing", 0) is None


def test_progress_line_updates_one_display_and_clears_it(recorder):
    line = progress.ProgressLine(enabled=True)
    line.update("epoch 1/3")
    line.update("epoch 1/3")  # the same line again: nothing sent
    line.clear()
    ids = {display_id for display_id, _ in recorder.shown}
    assert len(ids) == 1, "one output, rewritten in place"
    assert [text for _, text in recorder.shown] == ["", "epoch 1/3", ""]


def test_progress_line_outside_a_kernel_shows_nothing(recorder):
    line = progress.ProgressLine()  # pytest runs outside a Jupyter kernel
    line.update("epoch 1/3")
    assert line.text == "epoch 1/3"
    assert recorder.shown == []


def test_watch_training_follows_the_epochs_and_ends_empty(recorder, tmp_path):
    line = progress.ProgressLine(enabled=True)
    history = tmp_path / "gru-001" / "history.csv"
    with progress.watch_training(2, label="GRU: ", runs_dir=tmp_path, line=line):
        write_history(history, ["0,5.0,1.0,5.5"])
        deadline = time.time() + 5
        while line.text != "GRU: epoch 1/2 · loss 5.000 · val_loss 5.500" and time.time() < deadline:
            time.sleep(0.01)
        seen_first = line.text
        write_history(history, ["0,5.0,1.0,5.5", "1,4.0,1.0,4.5"])
        while not line.text.startswith("GRU: epoch 2/2") and time.time() < deadline:
            time.sleep(0.01)
        seen_second = line.text
    assert seen_first == "GRU: epoch 1/2 · loss 5.000 · val_loss 5.500"
    assert seen_second == "GRU: epoch 2/2 · loss 4.000 · val_loss 4.500"
    texts = [text for _, text in recorder.shown]
    assert texts[1] == "GRU: training…"
    assert texts[-1] == "" and line.text == "", "the line is cleared at the end"


def test_watch_training_clears_the_line_when_training_fails(recorder, tmp_path):
    line = progress.ProgressLine(enabled=True)
    with pytest.raises(RuntimeError):
        with progress.watch_training(3, runs_dir=tmp_path, line=line):
            raise RuntimeError("interrupted")
    assert line.text == ""


def test_a_kernel_sees_the_line_change_under_the_running_cell(tmp_path):
    """In a real Jupyter kernel the thread's updates belong to the cell that trains, and the last one clears it."""
    from jupyter_client.manager import start_new_kernel

    from helpers import config

    kernel, client = start_new_kernel(kernel_name="python3", env={**os.environ, "PYTHONPATH": str(config.ROOT)})
    try:
        code = f"""
import pathlib, time
from helpers import progress
progress.POLL_SECONDS = 0.02
history = pathlib.Path({str(tmp_path)!r}) / "gru-001" / "history.csv"
history.parent.mkdir(parents=True)
with progress.watch_training(2, runs_dir=history.parent.parent):
    history.write_text("epoch,loss,val_loss\\n0,5.0,5.5\\n")
    time.sleep(0.5)
"""
        msg_id = client.execute(code)
        shown = []
        while True:
            message = client.get_iopub_msg(timeout=60)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] in ("display_data", "update_display_data", "error"):
                shown.append((message["msg_type"], message["content"].get("data", {}).get("text/plain")))
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
    finally:
        kernel.shutdown_kernel(now=True)
    assert shown == [
        ("display_data", ""),
        ("update_display_data", "training…"),
        ("update_display_data", "epoch 1/2 · loss 5.000 · val_loss 5.500"),
        ("update_display_data", ""),
    ]
