"""What a notebook cell shows: a one-line :class:`Notice`, an audio :class:`Player`, an engraved :class:`Sheet`.

Made by :func:`helpers.audio.midi_to_player` and :func:`helpers.score.notes_to_sheet`; seen in
notebooks 02 and 06-09. Standard library only: no synthesizer, no engraver, no TensorFlow.

Each object offers the forms that JupyterLab shows in a notebook it does not trust (a committed
notebook opened from a fresh clone is untrusted until it is run or ``jupyter trust``-ed):

- plain text is always shown, so every object's text says in words what it holds (alt text);
- HTML is shown after sanitising: the player's ``<audio controls src="data:audio/mpeg;...">``
  keeps its tag, its attributes and its ``data:`` source (JupyterLab checks URL schemes on
  ``href`` and ``cite`` only);
- SVG is withheld (``image/svg+xml`` is not a safe MIME type) but PNG is shown, so a score
  carries a PNG beside its SVG.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Notice:
    """One line shown in a notebook instead of a player or a score, saying what went wrong.

    A notebook cell that ends with a ``Notice`` displays the line and the notebook goes on.
    """

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"**Not shown:** {html.escape(self.text)}"


@dataclass(frozen=True)
class Player:
    """An MP3 player for a notebook: ``<audio controls>`` with the MP3 embedded (base64).

    Attributes:
        mp3: the embedded MP3 file.
        title: shown above the player (the MIDI file's name).
        seconds: length of the embedded audio.
        total_seconds: length of the whole piece (more than ``seconds`` when it was cut short).
        files: audio files written for the whole piece (``save=True`` of
            :func:`helpers.audio.midi_to_player`).
    """

    mp3: bytes
    title: str
    seconds: float
    total_seconds: float
    files: tuple[Path, ...] = ()

    @property
    def caption(self) -> str:
        shown = f"{self.seconds:.0f} s" if self.seconds >= self.total_seconds - 0.05 else (
            f"the first {self.seconds:.0f} s of {self.total_seconds:.0f} s"
        )
        saved = f"; whole piece saved as {', '.join(path.name for path in self.files)}" if self.files else ""
        return f"{self.title} — {shown} (MP3, {len(self.mp3) / 1024:.0f} KB){saved}"

    def __repr__(self) -> str:
        return f"Player({self.caption})"

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.mp3).decode("ascii")
        caption = html.escape(self.caption)
        return (
            f"<figure><figcaption><small>{caption}</small></figcaption>"
            f'<audio controls preload="none" title="Audio player: {caption}" src="data:audio/mpeg;base64,{data}">'
            f"Your browser cannot play MP3: {caption}</audio></figure>"
        )


@dataclass(frozen=True)
class Sheet:
    """An engraved score for a notebook: PNG and SVG, and a description in words.

    JupyterLab shows the SVG in a trusted notebook and the PNG in an untrusted one; a reader
    who sees neither (a screen reader, a terminal) gets :attr:`description`.

    Attributes:
        svg: the SVG document.
        title: the piece it shows.
        n_notes: noteheads engraved (a note tied across a bar line counts twice).
        description: the score in words (staves, clefs, key, meter, bars, range), its alt text.
        png: the score as PNG, or ``None`` when it could not be made.
        png_missing: why there is no PNG (empty when there is one).
    """

    svg: str
    title: str
    n_notes: int
    description: str = ""
    png: bytes | None = None
    png_missing: str = ""

    @property
    def png_size(self) -> tuple[int, int]:
        """Width and height of the PNG in pixels, read from its header; ``(0, 0)`` without one."""
        if not self.png or self.png[:8] != b"\x89PNG\r\n\x1a\n":
            return (0, 0)
        return int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big")

    def __repr__(self) -> str:
        missing = f" [{self.png_missing}]" if self.png_missing else ""
        return f"{self.description or f'Sheet music of {self.title}'}{missing}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        data: dict = {"text/plain": repr(self), "image/svg+xml": self.svg}
        metadata: dict = {}
        if self.png:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
            width, height = self.png_size
            metadata["image/png"] = {"width": width, "height": height, "alt": self.description}
        return data, metadata
