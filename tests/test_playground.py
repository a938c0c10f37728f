"""Tests of helpers.playground: the callbacks of notebook 10's controls, without a browser."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from conftest import write_tune

from helpers import config, pipeline, playground
from helpers.display import Notice, Player, Sheet
from helpers.playground import RUN_PRIMER, Choice, Playground


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A folder holding one small trained MIDI-like run (the improved recipe), and one unfinished folder."""
    root = tmp_path_factory.mktemp("playground")
    for i in range(4):
        write_tune(root / "tunes" / f"tune_{i}.mid", seed=50 + i)
    corpus = pipeline.prepare(root / "tunes", encoding="midilike")
    pipeline.train_run(corpus, recipe="improved", seq_length=8, epochs=1, units=(8,), batch_size=8,
                       run_dir=root / "runs" / "gru-improved-001")
    (root / "runs" / "gru-improved-002").mkdir()  # started, never trained: not offered
    return root / "runs"


@pytest.fixture
def play(runs_dir, tmp_path):
    return Playground(runs_dir, output=tmp_path / "current.mid")


def test_choice_maps_the_off_positions_of_the_sliders_to_none():
    assert Choice("r").sampling() == {"temperature": 1.0, "top_k": None, "top_p": None}
    assert Choice("r", temperature=0.5, top_k=3, top_p=0.9).sampling() == {"temperature": 0.5, "top_k": 3, "top_p": 0.9}
    assert Choice("r", primer="bach.mid", top_p=0.9, seed=4).title() == "r, bach, T=1, top-p 0.9, seed 4"


def test_only_runs_that_can_generate_are_offered(runs_dir):
    assert playground.run_names(runs_dir) == ["gru-improved-001"]
    assert playground.run_names(runs_dir / "nothing here") == []


def test_primers_are_the_runs_own_then_held_out_then_training_pieces(play):
    names = play.primer_names("gru-improved-001")
    settings = play.model("gru-improved-001")[2]
    assert names == [RUN_PRIMER, *sorted(settings["val_pieces"]), *sorted(settings["train_pieces"])]
    assert len(names) == 5


def test_a_choice_gives_the_same_piece_every_time_and_another_seed_another(play):
    choice = Choice("gru-improved-001", notes=40, seed=1)
    first, again = play.notes(choice), play.notes(choice)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 40  # MIDI-like runs count notes
    assert not play.notes(dataclasses.replace(choice, seed=2)).equals(first)


def test_a_tiny_top_p_leaves_one_token_so_the_seed_no_longer_matters(play):
    choice = Choice("gru-improved-001", notes=30, top_p=1e-6)  # the untrained model is nearly uniform over 320 tokens
    pd.testing.assert_frame_equal(play.notes(choice), play.notes(dataclasses.replace(choice, seed=9)))


def test_a_primer_piece_is_read_from_the_runs_data_folder_once(play, monkeypatch):
    name = play.primer_names("gru-improved-001")[-1]
    primer = play.primer("gru-improved-001", name)
    own = play.primer("gru-improved-001")
    assert primer["tokens"] != own["tokens"] and len(primer["tokens"]) <= 8  # the run's seq_length
    monkeypatch.setattr(pipeline, "primer_from_midi", lambda *args, **kwargs: pytest.fail("read twice"))
    assert play.primer("gru-improved-001", name) is primer


def test_piece_writes_the_current_file_and_shows_player_roll_and_score(play):
    piece = play.piece(Choice("gru-improved-001", notes=24, instrument="Violin"))
    assert piece.path == play.output and piece.path.is_file()
    player, roll, sheet = piece.shown
    assert isinstance(player, (Player, Notice)) and isinstance(sheet, (Sheet, Notice))
    assert roll.axes and roll.axes[0].get_title().startswith("gru-improved-001")
    written = piece.path.read_bytes()
    play.piece(Choice("gru-improved-001", notes=24, seed=5), draw=False)
    assert piece.path.read_bytes() != written  # the current piece is overwritten, on purpose
    assert "24 notes" in piece.summary()


def test_save_keeps_a_piece_under_a_new_name(play, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "GENERATED_DIR", tmp_path / "generated")
    first = play.save(Choice("gru-improved-001", notes=12))
    second = play.save(Choice("gru-improved-001", notes=12))
    assert first != second and first.name.startswith("playground-") and second.is_file()


def test_static_mode_shows_the_piece_as_plain_outputs(play, monkeypatch, capsys):
    monkeypatch.setenv(playground.STATIC_VARIABLE, "1")
    assert not playground.interactive()
    piece = playground.show(play, Choice("gru-improved-001", notes=16))
    assert isinstance(piece, playground.Piece)
    assert capsys.readouterr().out.startswith("16 notes, ")


def test_controls_regenerate_when_a_value_changes(play, monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.delenv(playground.STATIC_VARIABLE, raising=False)
    assert playground.interactive()
    calls = []
    real = play.piece
    monkeypatch.setattr(play, "piece", lambda choice, draw=True: calls.append(choice) or real(choice, draw=False))
    box = playground.controls(play, Choice("gru-improved-001", notes=16))
    widgets = {child.description: child for column in box.children[0].children for child in column.children}
    assert {"run", "primer", "temperature", "top-k (0: off)", "top-p (1: off)", "notes", "seed", "instrument"} <= set(widgets)
    widgets["temperature"].value = 1.5
    widgets["top-p (1: off)"].value = 0.5
    widgets["primer"].value = play.primer_names("gru-improved-001")[1]
    assert [c.temperature for c in calls] == [1.0, 1.5, 1.5, 1.5]
    assert calls[-1].top_p == 0.5 and calls[-1].primer != RUN_PRIMER
    status = box.children[1]
    assert status.value.startswith("16 notes, ") and "top-p 0.5" in status.value
