"""Tests of helpers.plots on small notes tables built here: a C-major scale and a chord."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config, plots, tokens

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def make_notes(rows, piece="test.mid"):
    """rows: (offset, duration, pitch[, velocity[, part]]) tuples → a notes table."""
    table = []
    for row in rows:
        offset, duration, pitch, *rest = row
        velocity = rest[0] if rest else 90
        part = rest[1] if len(rest) > 1 else 0
        table.append((piece, part, "", float(offset), float(duration), pitch, velocity))
    return pd.DataFrame(table, columns=["piece", "part", "instrument", "offset", "duration", "pitch", "velocity"])


@pytest.fixture
def scale():
    """C major scale, one quarter note each, C4..C5."""
    return make_notes([(i, 1.0, p) for i, p in enumerate(SCALE)])


@pytest.fixture
def chord_then_note():
    """C-E-G chord for a half note (velocity 80), then D4 for an eighth (velocity 100)."""
    return make_notes([(0, 2.0, 60, 80), (0, 2.0, 64, 80), (0, 2.0, 67, 80), (2, 0.5, 62, 100)])


# ----------------------------------------------------------------------------- matrix


def test_matrix_of_scale_has_one_note_per_column(scale):
    roll = plots.piano_roll_matrix(scale, resolution=4)
    assert roll.shape == (128, 32)
    for i, pitch in enumerate(SCALE):
        assert (roll[pitch, 4 * i : 4 * i + 4] == 90).all()
    assert (np.count_nonzero(roll, axis=0) == 1).all()  # exactly one pitch sounds at a time
    assert np.count_nonzero(roll) == 32


def test_matrix_of_chord_marks_exactly_the_sounding_cells(chord_then_note):
    roll = plots.piano_roll_matrix(chord_then_note, resolution=2)
    assert roll.shape == (128, 5)  # ends at 2.5 quarter lengths
    expected = np.zeros((128, 5), dtype=np.uint8)
    expected[[60, 64, 67], 0:4] = 80
    expected[62, 4] = 100
    np.testing.assert_array_equal(roll, expected)


def test_matrix_handles_triplets_grace_notes_and_overlaps():
    notes = make_notes([(1 / 3, 1 / 3, 70, 50), (2, 0.0, 71, 60), (0, 1.0, 72, 40), (0.5, 1.0, 72, 90)])
    roll = plots.piano_roll_matrix(notes, resolution=3)
    assert roll.shape == (128, 7)  # a grace note at 2.0 still gets a column
    assert roll[70].tolist() == [0, 50, 0, 0, 0, 0, 0]  # 1/3 * 3 is not exactly 1 in floats
    assert roll[71].tolist() == [0, 0, 0, 0, 0, 0, 60]
    assert roll[72, 1] == 90  # overlapping notes of one pitch: the louder wins
    assert roll[72, 0] == 40 and roll[72, 4] == 90 and roll[72, 5] == 0


def test_matrix_of_empty_table_and_bad_input():
    assert plots.piano_roll_matrix(make_notes([])).shape == (128, 0)
    with pytest.raises(ValueError):
        plots.piano_roll_matrix(make_notes([(0, 1, 60)]), resolution=0)
    no_velocity = make_notes([(0, 1, 60)]).drop(columns="velocity")
    assert plots.piano_roll_matrix(no_velocity, 1)[60].tolist() == [1]


# ----------------------------------------------------------------------------- figures


def test_piano_roll_has_one_bar_per_note_and_names_the_cs(scale):
    fig = plots.plot_piano_roll(scale, title="scale")
    (ax,) = fig.axes
    assert len(ax.patches) == len(scale)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C4", "C5"]
    assert ax.get_title() == "scale"
    bar = sorted(ax.patches, key=lambda r: r.get_x())[3]
    assert (bar.get_x(), bar.get_width()) == (3.0, 1.0)
    assert bar.get_y() + bar.get_height() / 2 == pytest.approx(65)


def test_piano_roll_zooms_and_colours_parts(scale):
    two_parts = scale.assign(part=[0, 1] * 4)
    fig = plots.plot_piano_roll(two_parts, max_offset=4)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert ax.get_xlim() == (0, 4)
    assert len({p.get_facecolor() for p in ax.patches}) == 2
    assert ax.get_legend() is not None


def test_side_by_side_rolls_share_the_pitch_range(scale, chord_then_note):
    low = chord_then_note.assign(pitch=chord_then_note["pitch"] - 24)  # C2..G2
    fig = plots.plot_piano_rolls_side_by_side(scale, low, titles=("train", "generated"))
    left, right = fig.axes
    assert (len(left.patches), len(right.patches)) == (8, 4)
    assert left.get_ylim() == right.get_ylim() == (34.5, 73.5)  # C2 - 1 .. C5 + 1
    assert [left.get_title(), right.get_title()] == ["train", "generated"]


def test_offsets_plot_draws_the_list(scale):
    offsets = [0.0, 1.0, 2.0, 0.0, 0.5]
    fig = plots.plot_offsets(offsets)
    (line,) = fig.axes[0].get_lines()
    assert line.get_ydata().tolist() == offsets
    assert line.get_xdata().tolist() == [0, 1, 2, 3, 4]


def test_histograms_count_every_note(scale, chord_then_note):
    notes = pd.concat([scale, chord_then_note], ignore_index=True)
    pitch_ax = plots.plot_pitch_histogram(notes).axes[0]
    assert sum(p.get_height() for p in pitch_ax.patches) == len(notes)
    assert len(pitch_ax.patches) == 72 - 60 + 3  # one bar per semitone, one spare each side
    duration_ax = plots.plot_duration_histogram(notes).axes[0]
    assert [p.get_height() for p in duration_ax.patches] == [1, 8, 3]
    assert [t.get_text() for t in duration_ax.get_xticklabels()] == ["1/2", "1", "2"]
    other_ax = plots.plot_duration_histogram(notes, top=1).axes[0]
    assert [t.get_text() for t in other_ax.get_xticklabels()] == ["1", "other"]
    assert [p.get_height() for p in other_ax.patches] == [8, 4]


def test_chord_sizes_counts_events(chord_then_note):
    events = tokens.notes_to_events(chord_then_note)
    ax = plots.plot_chord_sizes(events).axes[0]
    assert [p.get_height() for p in ax.patches] == [1, 0, 1]  # one single note, one triad


def test_top_tokens_keeps_the_most_frequent_on_top():
    counts = pd.Series(["C4", "E4", "C4", "G4", "C4", "E4"]).value_counts()
    ax = plots.plot_top_tokens(counts, n=2).axes[0]
    assert [p.get_width() for p in ax.patches] == [3, 2]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C4", "E4"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # inverted: first bar at the top
    assert len(plots.plot_top_tokens({"A4": 1, "B4": 5}).axes[0].patches) == 2


def test_notes_per_piece(scale, chord_then_note):
    notes = pd.concat([scale, chord_then_note.assign(piece="other.mid")], ignore_index=True)
    ax = plots.plot_notes_per_piece(notes).axes[0]
    shown = dict(zip([t.get_text() for t in ax.get_yticklabels()], [p.get_width() for p in ax.patches]))
    assert shown == {"test.mid": 8, "other.mid": 4}


def test_save_figure_writes_a_png(tmp_path, monkeypatch, scale):
    monkeypatch.setattr(config, "FIGURES_DIR", tmp_path / "figures")
    path = plots.save_figure(plots.plot_piano_roll(scale), "01_piano_roll")
    assert path == tmp_path / "figures" / "01_piano_roll.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.save_figure(plots.plot_offsets([0, 1]), "x.png").name == "x.png"
    with pytest.raises(ValueError):
        plots.save_figure(plots.plot_offsets([0, 1]), "../escape")


def test_plot_history_draws_one_line_per_loss():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.5, 2.0], "val_loss": [3.1, 2.9, 2.95]})
    fig = plots.plot_history(history, title="run")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    assert list(ax.get_lines()[1].get_ydata()) == [3.1, 2.9, 2.95]
    only_training = plots.plot_history(history.drop(columns="val_loss"))
    assert len(only_training.axes[0].get_lines()) == 1


# ----------------------------------------------------------------------------- descriptions (alt text)


def test_every_figure_describes_what_it_draws(scale, chord_then_note):
    notes = pd.concat([scale, chord_then_note], ignore_index=True)
    roll = plots.plot_piano_roll(scale, title="scale")
    assert roll.alt == "Piano roll of scale: 8 notes from C4 to C5 over 8 quarter lengths; time runs to the right, pitch upwards."
    assert "2 parts" in plots.plot_piano_roll(scale.assign(part=[0, 1] * 4)).alt
    assert plots.plot_offsets([0.0, 1.0, 2.0, 0.0, 0.5]).alt.startswith(
        "Line plot of 5 offsets, token after token: a saw-tooth that climbs to at most 2 quarter lengths and drops back 1 time(s)")
    assert "from C4 to C5; the most common is C4 (2 notes)" in plots.plot_pitch_histogram(notes).alt
    assert "notes per duration in quarter lengths: 1/2: 1, 1: 8, 2: 3." in plots.plot_duration_histogram(notes).alt
    events = tokens.notes_to_events(chord_then_note)
    assert plots.plot_chord_sizes(events).alt.endswith("together: 1: 1, 2: 0, 3: 1.")
    counts = pd.Series(["C4", "E4", "C4", "G4", "C4", "E4"]).value_counts()
    assert plots.plot_top_tokens(counts, n=2).alt.endswith("most frequent first: C4: 3, E4: 2.")
    many = pd.Series({f"T{i}": 100 - i for i in range(20)})
    assert plots.plot_top_tokens(many).alt.endswith("T11: 89 and 8 more.")
    two_pieces = pd.concat([scale, chord_then_note.assign(piece="other.mid")], ignore_index=True)
    assert plots.plot_notes_per_piece(two_pieces).alt.endswith("of 2 pieces: other.mid: 4, test.mid: 8.")
    history = pd.DataFrame({"epoch": [1, 2], "loss": [3.0, 2.0], "val_loss": [3.1, 2.9]})
    assert plots.plot_history(history, title="run").alt == (
        "Loss curves of run over 2 epoch(s): training loss from 3.00 to 2.00 (lowest 2.00); "
        "validation loss from 3.10 to 2.90 (lowest 2.90).")


def test_side_by_side_rolls_describe_both_pieces(scale, chord_then_note):
    fig = plots.plot_piano_rolls_side_by_side(scale, chord_then_note, titles=("train", "generated"))
    assert fig.alt.startswith("Two piano rolls side by side, train and generated, on the same pitch axis. Piano roll of train: 8 notes")
    assert "Piano roll of generated: 4 notes from C4 to G4" in fig.alt


def test_a_notebook_figure_collects_the_descriptions_of_its_plots(scale):
    fig = plots.new_figure((8, 3), alt="Two rolls.")
    left, right = fig.subplots(1, 2)
    plots.plot_piano_roll(scale, ax=left, title="a")
    plots.plot_piano_roll(scale.head(2), ax=right, title="b")
    assert fig.alt.startswith("Two rolls. Piano roll of a: 8 notes") and "Piano roll of b: 2 notes from C4 to D4" in fig.alt
    bare = plots.new_figure((4, 3))
    bare.add_subplot().set_title("alone")
    assert bare.alt == "A figure of 1 plot(s): alone."


def test_a_shown_figure_carries_its_description_in_every_format(scale):
    import base64
    import html

    from IPython.core.formatters import DisplayFormatter

    fig = plots.plot_piano_roll(scale, title='a "quoted" <title>')
    data, metadata = DisplayFormatter().format(fig)  # what a notebook stores for `fig` at the end of a cell
    png = base64.b64decode(data["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"] == fig.alt
    assert metadata["image/png"]["alt"] == fig.alt
    assert data["text/html"] == f'<img src="data:image/png;base64,{data["image/png"]}" alt="{html.escape(fig.alt)}">'
    assert 'alt="Piano roll of a &quot;quoted&quot; &lt;title&gt;: 8 notes' in data["text/html"]
