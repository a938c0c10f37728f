"""Tests of helpers.display: what a notebook cell shows, in forms JupyterLab shows untrusted.

The allowed tags and attributes below are those of JupyterLab 4.6's HTML sanitiser (the
``Sanitizer`` options in ``@jupyterlab/apputils``, read from the bundle in the venv); URL
schemes are checked on ``href`` and ``cite`` only, so a ``data:`` source on ``<audio>`` stays.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

from helpers import display

#: The tags the player's HTML uses, with the attributes JupyterLab 4.6 keeps on them untrusted.
JUPYTERLAB_KEEPS = {
    "figure": set(), "figcaption": set(), "small": set(),
    "audio": {"autoplay", "controls", "loop", "mediagroup", "muted", "preload", "src"},
}
JUPYTERLAB_KEEPS_ON_ANY = {"class", "dir", "hidden", "id", "lang", "style", "title"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def test_the_player_uses_only_html_that_untrusted_jupyterlab_keeps():
    player = display.Player(mp3=b"ID3 not really mp3", title="a <b> & c.mid", seconds=2.0, total_seconds=5.0,
                            files=(Path("a.wav"),))
    parser = Tags()
    parser.feed(player._repr_html_())
    assert [tag for tag, _ in parser.found] == ["figure", "figcaption", "small", "audio"]
    for tag, attrs in parser.found:
        assert set(attrs) <= JUPYTERLAB_KEEPS[tag] | JUPYTERLAB_KEEPS_ON_ANY, tag
    audio = dict(parser.found)["audio"]
    assert audio["src"].startswith("data:audio/mpeg;base64,") and "controls" in audio
    assert audio["title"] == "Audio player: " + player.caption  # its description for screen readers
    assert "a <b> & c.mid" in player.caption and "<b>" not in player._repr_html_()  # the title is escaped
    assert repr(player) == f"Player({player.caption})" and "the first 2 s of 5 s" in player.caption


def test_a_notice_is_one_line_in_text_and_markdown():
    notice = display.Notice("no audio for x.mid: <missing>")
    assert repr(notice) == "no audio for x.mid: <missing>"
    assert notice._repr_markdown_() == "**Not shown:** no audio for x.mid: &lt;missing&gt;"


def test_display_stays_light():
    """Showing a cell needs no synthesizer, engraver, renderer or TensorFlow."""
    import subprocess

    code = ("import sys, helpers.display; heavy = {'tensorflow', 'tinysoundfont', 'verovio', 'resvg_py', 'music21', "
            "'mido', 'numpy', 'pandas'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
