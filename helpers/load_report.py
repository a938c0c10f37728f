"""What a load of MIDI files used and what it skipped, with the reason and what to do about it.

Shown in notebook 02 (``str(report)`` and ``report.to_frame()``); the command line prints it and
writes it as CSV (``--report``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpers import config
from helpers.midi_reader import NEXT_STEPS, Extract, MidiError, MidiLoadError

if TYPE_CHECKING:  # pandas is imported where tables are built
    import pandas as pd

#: At most this many skipped files are listed one by one in ``str(report)``.
REPORT_LIST_LIMIT = 20


@dataclass
class LoadReport:
    """What a load used and what it skipped, with the reason. Shown in notebook 02.

    ``used`` holds one dict per file used (``piece``, ``notes``, ``drum_hits``, and ``warning``
    when the file was damaged and what could be read was kept); ``skipped`` one dict per file
    left out (``piece``, ``reason``: a label such as ``"corrupt"`` with details in brackets,
    and the bare ``label``).
    ``passed_over`` names what the folder search passed over on purpose (``piece``, ``reason``:
    hidden files and folders, links back to a folder already searched); these are no candidates.
    """

    used: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    passed_over: list[dict] = field(default_factory=list)

    def add(self, piece: str, found: Extract | MidiLoadError) -> None:
        """Enter one file: used (its notes) or skipped (the row of its ``MidiLoadError``)."""
        if isinstance(found, MidiLoadError):
            reason = found.reason + (f" ({found.detail})" if found.detail else "")
            self.skipped.append({"piece": piece, "reason": reason, "label": found.reason})
            return
        entry = {"piece": piece, "notes": len(found), "drum_hits": found.drum_hits}
        if found.warnings:
            entry["warning"] = "; ".join(found.warnings)
        self.used.append(entry)

    @property
    def notes_kept(self) -> int:
        return sum(entry["notes"] for entry in self.used)

    @property
    def drum_hits(self) -> int:
        return sum(entry["drum_hits"] for entry in self.used)

    @property
    def reasons(self) -> dict[str, int]:
        """How many files were skipped for each reason label, most frequent first (ties by name)."""
        counts = Counter(entry.get("label", entry["reason"]) for entry in self.skipped)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_frame(self) -> pd.DataFrame:
        """One row per file: piece, status (``used``, ``skipped`` or ``passed over``), notes, drum hits, reason.

        A used file's reason is empty, or says what was damaged in it.
        """
        rows = [
            {
                "piece": e["piece"],
                "status": "used",
                "notes": e["notes"],
                "drum_hits": e["drum_hits"],
                "reason": e.get("warning", ""),
            }
            for e in self.used
        ] + [
            {"piece": e["piece"], "status": "skipped", "notes": 0, "drum_hits": 0, "reason": e["reason"]}
            for e in self.skipped
        ] + [
            {"piece": e["piece"], "status": "passed over", "notes": 0, "drum_hits": 0, "reason": e["reason"]}
            for e in self.passed_over
        ]
        import pandas as pd

        return pd.DataFrame(rows, columns=["piece", "status", "notes", "drum_hits", "reason"])

    def to_csv(self, path: Path | str) -> Path:
        """Write :meth:`to_frame` as CSV, with a ``label`` column (the bare reason label) and a
        ``next_step`` column (what to do, where there is something); written atomically."""
        frame = self.to_frame()
        labels = [""] * len(self.used) + [e.get("label", e["reason"]) for e in self.skipped]
        frame["label"] = labels + ["passed over"] * len(self.passed_over)
        frame["next_step"] = [NEXT_STEPS.get(label, "") for label in frame["label"]]
        return config.write_atomic(path, frame.to_csv(index=False))

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, limit: int | None = REPORT_LIST_LIMIT, more: str = "see report.to_frame()") -> str:
        """The report as text: a summary line, then damaged and skipped files (``limit`` of each;
        ``None``: all), what was passed over on purpose, and what to do about each reason.

        Args:
            limit: most files listed of each kind.
            more: where the rest can be seen, said after "... and N more skipped".
        """
        limit = len(self.used) + len(self.skipped) + len(self.passed_over) if limit is None else limit
        total = len(self.used) + len(self.skipped)
        lines = [
            f"Used {len(self.used)} of {total} files: {self.notes_kept:,} notes kept, "
            f"{self.drum_hits:,} drum hits left out."
        ]
        repaired = [e for e in self.used if e.get("warning")]
        for entry in repaired[:limit]:
            lines.append(f"  damaged, kept what could be read: {entry['piece']}: {entry['warning']}")
        if len(repaired) > limit:
            lines.append(f"  ... and {len(repaired) - limit:,} more damaged files ({more})")
        for entry in self.skipped[:limit]:
            lines.append(f"  skipped {entry['piece']}: {entry['reason']}")
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit:,} more skipped ({more})")
            tally = ", ".join(f"{count:,} {label}" for label, count in self.reasons.items())
            lines.append(f"Skipped {len(self.skipped):,} files: {tally}.")
        for entry in self.passed_over[:limit]:
            lines.append(f"  passed over on purpose: {entry['piece']}: {entry['reason']}")
        if len(self.passed_over) > limit:
            lines.append(f"  ... and {len(self.passed_over) - limit:,} more passed over ({more})")
        steps = [(label, NEXT_STEPS[label]) for label in self.reasons if NEXT_STEPS.get(label)]
        if steps:
            lines.append("What to do:" if len(steps) > 1 else f"What to do: {steps[0][0]}: {steps[0][1]}.")
            lines += [f"  {label}: {step}." for label, step in steps] if len(steps) > 1 else []
        return "\n".join(lines)


class NoUsableMidiError(MidiError):
    """A folder gave no usable music at all: training cannot start.

    The message lists the files and their reasons (up to :data:`REPORT_LIST_LIMIT`), what to
    do about each reason, and where to point the loader instead; ``report`` holds them all.
    """

    def __init__(self, folder: Path | str, candidates: int, report: LoadReport, more: str = "see error.report.to_frame()"):
        self.folder, self.candidates, self.report = Path(folder), candidates, report
        super().__init__(self.message(more=more))

    def message(self, limit: int | None = None, more: str = "see error.report.to_frame()") -> str:
        """The whole message, listing up to ``limit`` files (default :data:`REPORT_LIST_LIMIT`; None: all)."""
        tally = ", ".join(f"{count:,} {label}" for label, count in self.report.reasons.items()) or "no MIDI files"
        return (
            f"No usable MIDI in {self.folder}: {self.candidates} candidate files, none with pitched notes ({tally}).\n"
            + self.report.to_text(REPORT_LIST_LIMIT if limit is None else limit, more)
            + "\nPoint the loader at a folder of .mid/.midi files (searched with its sub-folders)."
        )
