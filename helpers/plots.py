"""Figures of notes and tokens: piano rolls, histograms, token counts; saved under outputs/figures.

Drawn first in notebook 01 (a piano roll) and notebook 02 (the exploratory plots); notebook 06
reuses :func:`plot_piano_rolls_side_by_side` to put a training piece beside a generated one.

Every function builds a :class:`DescribedFigure` (a matplotlib ``Figure``) directly, without
``pyplot``: nothing is shown behind the caller's back, no global figure list grows, and a
notebook shows a figure by ending a cell with it. Each figure carries a text description of
what it shows (its ``alt`` text), written from the data it draws, for readers who cannot see
it: a screen reader reads it in JupyterLab and in a notebook exported to HTML. A notebook that
lays out its own figure starts it with :func:`new_figure`. Times are in **quarter lengths** (the
unit of the notes table of :mod:`helpers.constants`), pitches are MIDI numbers 0..127.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers import config, tokens

#: Number of MIDI pitches (rows of a piano-roll matrix), 0..127 inclusive.
PITCHES = 128
#: Resolution of the pixels a figure is saved with, in dots per inch.
SAVE_DPI = 110
#: Resolution of a figure shown in a notebook, in dots per inch.
SHOW_DPI = 80
#: Tolerance, in grid cells, for onsets and ends that floating point puts a hair off the grid.
_GRID_TOLERANCE = 1e-6
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


# ----------------------------------------------------------------------------- figures with a description


class DescribedFigure(Figure):
    """A matplotlib figure that shows itself in a notebook as a PNG with a text description.

    ``alt`` is what a reader who cannot see the figure gets instead: ``new_figure``'s ``alt``
    (what the figure is about), followed by one sentence per plot drawn into it, which the
    plotting functions of this module add from the data they draw.

    Displayed (the last expression of a cell), it gives the notebook three forms of the same
    picture: ``text/html`` (an ``<img>`` with an ``alt`` attribute: JupyterLab, VS Code and
    ``jupyter nbconvert --to html`` show this one, also in an untrusted notebook),
    ``image/png`` with the description in its metadata, and ``text/plain`` (the description),
    for consoles and tools that show no images.
    """

    def __init__(self, *args, alt: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.title_alt = alt
        self.descriptions: list[str] = []

    @property
    def alt(self) -> str:
        """The text description: the figure's own words, then one sentence per plot."""
        parts = [p for p in (self.title_alt, *self.descriptions) if p]
        if not parts:
            titles = [ax.get_title() for ax in self.axes if ax.get_title()]
            parts = [f"A figure of {len(self.axes)} plot(s)" + (f": {'; '.join(titles)}." if titles else ".")]
        return " ".join(parts)

    def png_bytes(self, dpi: float = SHOW_DPI) -> bytes:
        """The figure as PNG bytes, cropped to what is drawn."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        png = base64.b64encode(self.png_bytes()).decode("ascii")
        alt = self.alt
        data = {
            "text/html": f'<img src="data:image/png;base64,{png}" alt="{html.escape(alt)}">',
            "image/png": png,
            "text/plain": alt,
        }
        return data, {"image/png": {"alt": alt}}

    def __repr__(self) -> str:
        return f"<DescribedFigure: {self.alt}>"


def new_figure(figsize: tuple[float, float], alt: str = "", **kwargs) -> DescribedFigure:
    """A new, empty :class:`DescribedFigure` (constrained layout), for a figure a notebook lays out.

    Args:
        figsize: width and height in inches.
        alt: what the figure shows, in words; the plots drawn into it add a sentence each.
        kwargs: passed on to :class:`matplotlib.figure.Figure`.

    >>> fig = new_figure((8, 3), alt="Two loss curves.")
    >>> fig.alt
    'Two loss curves.'
    """
    kwargs.setdefault("layout", "constrained")
    return DescribedFigure(figsize=figsize, alt=alt, **kwargs)


def _describe(fig: Figure, sentence: str) -> None:
    """Add ``sentence`` to the description of ``fig`` (a plain matplotlib figure has none)."""
    if isinstance(fig, DescribedFigure):
        fig.descriptions.append(sentence)


def _pitch_name(pitch: int) -> str:
    return tokens.pitch_to_name(int(pitch))


def _counted(labels, counts, most: int = 12) -> str:
    """``"1/2: 3, 1: 8 and 2 more"``: labelled counts, at most ``most`` of them spelled out."""
    pairs = [f"{label}: {int(count):,}" for label, count in zip(labels, counts)]
    shown = ", ".join(pairs[:most])
    return shown + (f" and {len(pairs) - most} more" if len(pairs) > most else "")


# ----------------------------------------------------------------------------- saving


def save_figure(fig: Figure, name: str) -> Path:
    """Save ``fig`` as ``config.FIGURES_DIR/<name>.png`` and return that path.

    Notebooks name their figures after themselves: ``save_figure(fig, "02_pitch_histogram")``.
    An existing file of that name is replaced (rerunning a notebook redraws its figures).

    Args:
        fig: the figure.
        name: file name without folder; ``.png`` is added when missing.

    Raises:
        ValueError: ``name`` is empty or holds a folder separator.
    """
    stem = name[:-4] if name.lower().endswith(".png") else name
    if not stem or "/" in stem or "\\" in stem:
        raise ValueError(f"figure name {name!r}: give a plain file name such as '02_pitch_histogram'")
    path = config.ensure_dir(config.FIGURES_DIR) / f"{stem}.png"
    fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight")
    return path


def _new_axes(figsize: tuple[float, float], ax: Axes | None = None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


# ----------------------------------------------------------------------------- piano roll


def piano_roll_matrix(notes: pd.DataFrame, resolution: int = 4) -> np.ndarray:
    """The data behind a piano roll: one row per MIDI pitch, one column per time step.

    Column ``t`` covers the time from ``t / resolution`` to ``(t + 1) / resolution`` quarter
    lengths. A note fills the columns from ``floor(offset * resolution)`` up to, not including,
    ``ceil((offset + duration) * resolution)`` — at least one column, so grace notes of
    duration 0 still show.

    Args:
        notes: a notes table with columns ``offset``, ``duration`` (quarter lengths) and
            ``pitch``; ``velocity`` when present (else every note counts 1).
        resolution: columns per quarter length (4 = sixteenth notes).

    Returns:
        Array of shape ``(128, T)``, dtype uint8, ``T = ceil(end * resolution)`` where ``end``
        is the latest note end; each cell holds the highest velocity sounding there, 0 for
        silence. An empty table gives shape ``(128, 0)``.

    >>> piano_roll_matrix(pd.DataFrame({"offset": [0.0], "duration": [1.0], "pitch": [60]}), 4)[60].tolist()
    [1, 1, 1, 1]
    """
    if resolution < 1:
        raise ValueError(f"resolution={resolution}: need at least one column per quarter length")
    if notes.empty:
        return np.zeros((PITCHES, 0), dtype=np.uint8)
    offsets = notes["offset"].to_numpy(dtype=float) * resolution
    ends = (notes["offset"].to_numpy(dtype=float) + notes["duration"].to_numpy(dtype=float)) * resolution
    pitches = notes["pitch"].to_numpy(dtype=int)
    if pitches.min() < 0 or pitches.max() >= PITCHES:
        raise ValueError("pitches must be MIDI numbers 0..127")
    velocities = notes["velocity"].to_numpy(dtype=int) if "velocity" in notes else np.ones(len(notes), int)
    starts = np.floor(offsets + _GRID_TOLERANCE).astype(int)
    stops = np.maximum(np.ceil(ends - _GRID_TOLERANCE).astype(int), starts + 1)
    width = max(int(math.ceil(ends.max() - _GRID_TOLERANCE)), int(stops.max()))
    roll = np.zeros((PITCHES, width), dtype=np.uint8)
    for pitch, start, stop, velocity in zip(pitches, starts, stops, velocities):
        roll[pitch, start:stop] = np.maximum(roll[pitch, start:stop], np.clip(velocity, 1, 127))
    return roll


def _pitch_axis(ax: Axes, low: int, high: int, axis: str = "y") -> None:
    """Limit an axis to pitches ``low..high`` and label it with note names at the C's."""
    cs = [p for p in range(low, high + 1) if p % 12 == 0]
    ticks = cs or sorted({low, high})
    labels = [tokens.pitch_to_name(p) for p in ticks]
    if axis == "y":
        ax.set_ylim(low - 0.5, high + 0.5)
        ax.set_yticks(ticks, labels)
        ax.set_ylabel("pitch")
        for c in cs:
            ax.axhline(c - 0.5, color="0.85", linewidth=0.6, zorder=0)
    else:
        ax.set_xticks(ticks, labels)


def _pitch_range(*tables: pd.DataFrame) -> tuple[int, int]:
    pitches = [int(p) for table in tables if not table.empty for p in (table["pitch"].min(), table["pitch"].max())]
    if not pitches:
        return 60, 72
    return max(min(pitches) - 1, 0), min(max(pitches) + 1, PITCHES - 1)


def plot_piano_roll(
    notes: pd.DataFrame,
    ax: Axes | None = None,
    title: str | None = None,
    max_offset: float | None = None,
) -> Figure:
    """Draw notes as horizontal bars: time (quarter lengths) on x, pitch on y, named at the C's.

    One bar per note, one colour per part (legend when there are several parts).

    Args:
        notes: a notes table (``offset``, ``duration``, ``pitch``; ``part`` and
            ``instrument`` used for colours and the legend when present).
        ax: draw into these axes (default: a new figure).
        title: the axes title.
        max_offset: draw only notes starting before this time, to zoom on the opening.

    Returns:
        The figure (``fig.axes[0]`` holds the bars as ``ax.patches``).
    """
    fig, ax = _new_axes((10, 4), ax)
    shown = notes if max_offset is None else notes[notes["offset"] < max_offset]
    parts = shown["part"] if "part" in shown else pd.Series(0, index=shown.index)
    for number, (part, group) in enumerate(shown.groupby(parts, sort=True)):
        label = f"part {part}"
        if "instrument" in group and str(group["instrument"].iloc[0]):
            label += f" · {group['instrument'].iloc[0]}"
        ax.barh(
            group["pitch"], group["duration"].clip(lower=0.05), left=group["offset"], height=0.8,
            color=_COLORS[number % len(_COLORS)], edgecolor="none", alpha=0.85, label=label,
        )
    low, high = _pitch_range(shown)
    _pitch_axis(ax, low, high)
    end = float((shown["offset"] + shown["duration"]).max()) if not shown.empty else 1.0
    ax.set_xlim(0, max_offset if max_offset is not None else end)
    ax.set_xlabel("time (quarter lengths)")
    if parts.nunique() > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    name = f" of {title}" if title else ""
    if shown.empty:
        _describe(fig, f"Piano roll{name}: no notes.")
    else:
        n_parts = parts.nunique()
        _describe(fig, (
            f"Piano roll{name}: {len(shown):,} notes from {_pitch_name(shown['pitch'].min())} to "
            f"{_pitch_name(shown['pitch'].max())} over {ax.get_xlim()[1]:g} quarter lengths"
            + (f", in {n_parts} parts (one colour each)" if n_parts > 1 else "")
            + "; time runs to the right, pitch upwards."
        ))
    return fig


def plot_piano_rolls_side_by_side(
    left_notes: pd.DataFrame,
    right_notes: pd.DataFrame,
    titles: Sequence[str] = ("training piece", "generated"),
    max_offset: float | None = None,
) -> Figure:
    """Two piano rolls next to each other on the same pitch range, e.g. training vs generated.

    Args:
        left_notes, right_notes: notes tables (see :func:`plot_piano_roll`).
        titles: the two axes titles.
        max_offset: draw only notes starting before this time, in both rolls.

    Returns:
        The figure, with two axes sharing the pitch axis.
    """
    fig = new_figure((13, 4), alt=f"Two piano rolls side by side, {titles[0]} and {titles[1]}, on the same pitch axis.")
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, table, title in zip((left, right), (left_notes, right_notes), titles):
        plot_piano_roll(table, ax=ax, title=title, max_offset=max_offset)
    low, high = _pitch_range(
        *(t if max_offset is None else t[t["offset"] < max_offset] for t in (left_notes, right_notes))
    )
    for ax in (left, right):
        _pitch_axis(ax, low, high)
    right.set_ylabel("")
    right.tick_params(labelleft=False)
    return fig


# ----------------------------------------------------------------------------- distributions


def plot_offsets(offsets: Sequence[float]) -> Figure:
    """The chapter's step-4 plot: the list of offsets, token after token, files one after another.

    Offsets count from the start of each piece, so the line climbs through one file, drops to
    0 where the next file starts, and climbs again (a saw-tooth).
    """
    fig, ax = _new_axes((9, 3.2))
    values = np.asarray(offsets, dtype=float)
    ax.plot(np.arange(len(values)), values, linewidth=1)
    ax.set_xlabel("token number (all files, one after another)")
    ax.set_ylabel("offset (quarter lengths)")
    ax.set_title("Offsets, token after token")
    drops = int((np.diff(values) < 0).sum()) if len(values) > 1 else 0
    _describe(fig, (
        f"Line plot of {len(values):,} offsets, token after token: a saw-tooth that climbs to at most "
        f"{values.max() if len(values) else 0:g} quarter lengths and drops back {drops} time(s), where a new file starts."
    ))
    return fig


def plot_pitch_histogram(notes: pd.DataFrame, title: str = "Pitches") -> Figure:
    """Histogram of the notes' MIDI pitches, one bar per semitone, named at the C's."""
    fig, ax = _new_axes((9, 3.2))
    pitches = notes["pitch"].to_numpy(dtype=int)
    low, high = _pitch_range(notes)
    ax.hist(pitches, bins=np.arange(low - 0.5, high + 1.5), color=_COLORS[0])
    _pitch_axis(ax, low, high, axis="x")
    ax.set_xlim(low - 0.5, high + 0.5)
    ax.set_xlabel("pitch")
    ax.set_ylabel("notes")
    ax.set_title(title)
    if len(pitches):
        values, counts = np.unique(pitches, return_counts=True)
        _describe(fig, (
            f"Histogram '{title}' of {len(pitches):,} pitches from {_pitch_name(values[0])} to {_pitch_name(values[-1])}; "
            f"the most common is {_pitch_name(values[counts.argmax()])} ({int(counts.max()):,} notes)."
        ))
    return fig


def _duration_label(value: float) -> str:
    fraction = Fraction(value).limit_denominator(12)
    return str(fraction) if fraction.denominator > 1 else str(fraction.numerator)


def plot_duration_histogram(notes: pd.DataFrame, top: int = 14, title: str = "Durations") -> Figure:
    """Bar chart of note durations (quarter lengths, shown as fractions: 1/4 = a sixteenth).

    The ``top`` most frequent values get a bar each, in order of length; all others share a
    last bar ``other``. Durations are rounded to 1/12 quarter length first.
    """
    fig, ax = _new_axes((9, 3.2))
    rounded = (notes["duration"].to_numpy(dtype=float) * 12).round() / 12
    counts = pd.Series(rounded).value_counts()
    kept = counts.head(top).sort_index()
    labels = [_duration_label(v) for v in kept.index]
    heights = kept.to_list()
    if len(counts) > top:
        labels.append("other")
        heights.append(int(counts.iloc[top:].sum()))
    ax.bar(range(len(heights)), heights, color=_COLORS[2])
    ax.set_xticks(range(len(heights)), labels)
    ax.set_xlabel("duration (quarter lengths)")
    ax.set_ylabel("notes")
    ax.set_title(title)
    _describe(fig, f"Bar chart '{title}', notes per duration in quarter lengths: {_counted(labels, heights)}.")
    return fig


def plot_chord_sizes(events: pd.DataFrame, title: str = "Pitches per event") -> Figure:
    """Bar chart of how many pitches start together per event (1 = a single note).

    Args:
        events: events from :func:`helpers.tokens.notes_to_events` (column ``pitches``).
    """
    fig, ax = _new_axes((6, 3.2))
    sizes = events["pitches"].map(len).value_counts().sort_index()
    full = sizes.reindex(range(1, int(sizes.index.max()) + 1), fill_value=0) if len(sizes) else sizes
    ax.bar(full.index, full.to_numpy(), color=_COLORS[3])
    ax.set_xticks(list(full.index))
    ax.set_xlabel("pitches starting together (1 = a single note)")
    ax.set_ylabel("events")
    ax.set_title(title)
    _describe(fig, f"Bar chart '{title}', events per number of pitches starting together: {_counted(full.index, full)}.")
    return fig


def plot_top_tokens(counts: pd.Series | Mapping[str, int], n: int = 20, title: str | None = None) -> Figure:
    """Horizontal bars of the ``n`` most frequent tokens, the most frequent on top.

    Args:
        counts: token → count, e.g. ``pd.Series(tokens).value_counts()``.
        n: how many tokens to show.
        title: the axes title (default: "Top n tokens").
    """
    series = pd.Series(counts, dtype="int64").sort_values(ascending=False, kind="stable").head(n)
    fig, ax = _new_axes((7, max(2.5, 0.28 * len(series) + 1)))
    ax.barh(range(len(series)), series.to_numpy(), color=_COLORS[4])
    ax.set_yticks(range(len(series)), [str(t) for t in series.index])
    ax.invert_yaxis()
    ax.set_xlabel("occurrences")
    ax.set_title(title or f"Top {len(series)} tokens")
    _describe(fig, f"Bar chart '{ax.get_title()}', occurrences per token, most frequent first: {_counted(series.index, series)}.")
    return fig


def plot_notes_per_piece(notes: pd.DataFrame, title: str = "Notes per piece") -> Figure:
    """Horizontal bars of the number of notes in each piece, pieces in name order."""
    counts = notes["piece"].value_counts().sort_index(ascending=False)
    fig, ax = _new_axes((7, max(2.5, 0.28 * len(counts) + 1)))
    ax.barh(range(len(counts)), counts.to_numpy(), color=_COLORS[5])
    ax.set_yticks(range(len(counts)), list(counts.index))
    ax.set_xlabel("notes")
    ax.set_title(title)
    _describe(fig, f"Bar chart '{title}' of {len(counts)} pieces: {_counted(counts.index[::-1], counts.iloc[::-1])}.")
    return fig


# ----------------------------------------------------------------------------- training


def plot_history(history: pd.DataFrame, title: str | None = None, ax: Axes | None = None) -> Figure:
    """Loss curves of a training run, one line per loss column (notebook 05).

    Args:
        history: one row per epoch with ``epoch`` and ``loss`` (and ``val_loss`` with
            validation), as :attr:`helpers.runs.Run.history` returns it.
        title: the axes title.
        ax: draw into these axes instead of a new figure.
    """
    fig, ax = _new_axes((7, 3.5), ax)
    labels = {"loss": "training", "val_loss": "validation"}
    for column, label in labels.items():
        if column in history:
            ax.plot(history["epoch"], history[column], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.legend()
    if title:
        ax.set_title(title)
    curves = [
        f"{label} loss from {history[column].iloc[0]:.2f} to {history[column].iloc[-1]:.2f} (lowest {history[column].min():.2f})"
        for column, label in labels.items() if column in history and len(history)
    ]
    _describe(fig, f"Loss curves{f' of {title}' if title else ''} over {len(history)} epoch(s): {'; '.join(curves) or 'no epochs'}.")
    return fig
