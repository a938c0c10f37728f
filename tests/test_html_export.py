"""Tests of the HTML copies that scripts/run_notebooks.py writes: readable with no network.

A small notebook (an equation, a figure, a score's PNG, a player) is exported without a kernel;
the page may load nothing from the web, and its equations are typeset by the MathJax copied
beside it (checked here by the files MathJax will ask for; there is no browser in the tests).
"""

from __future__ import annotations

import base64
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from conftest import C_MAJOR_SCALE
from test_score import notes_table

from helpers import display, score

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_notebooks():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Links(HTMLParser):
    """Every URL a page loads by itself: src/href of script, link and img, and <audio src>."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if tag in ("script", "link", "img", "audio", "source", "iframe") and name in ("src", "href") and value:
                self.urls.append((tag, value))


def small_notebook():
    sheet = score.notes_to_sheet(notes_table(C_MAJOR_SCALE), title="scale.mid", max_quarters=None)
    player = display.Player(mp3=b"ID3fake-mp3", title="scale.mid", seconds=5.0, total_seconds=5.0)
    sheet_data, sheet_metadata = sheet._repr_mimebundle_()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "# 04 · Test\n\nThe update gate $z_t$ mixes:\n\n"
            "$$h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t$$"),
        nbformat.v4.new_code_cell("score.notes_to_sheet(...)", execution_count=1, outputs=[
            nbformat.v4.new_output("execute_result", data=sheet_data, metadata=sheet_metadata, execution_count=1)]),
        nbformat.v4.new_code_cell("plots.piano_roll(...)", execution_count=2, outputs=[  # a figure: PNG only
            nbformat.v4.new_output("display_data", metadata={"image/png": {"alt": "A figure in words."}},
                                   data={"image/png": sheet_data["image/png"], "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell("audio.midi_to_player(...)", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", execution_count=3,
                                   data={"text/html": player._repr_html_(), "text/plain": repr(player)})]),
    ]
    return notebook, sheet, player


def test_the_html_copy_reads_offline(run_notebooks, tmp_path, caplog):
    notebook, sheet, player = small_notebook()
    page_path = run_notebooks.notebook_to_html(notebook, tmp_path / "04_test.html")
    page = page_path.read_text(encoding="utf-8")
    links = Links()
    links.feed(page)
    remote = [(tag, url) for tag, url in links.urls if re.match(r"(?i)\s*(https?:)?//", url)]
    assert remote == [], "the page would fetch these from the network"
    assert not re.search(r"(?i)@import|url\(\s*['\"]?(https?:)?//", page)  # nor from its styles

    # the equation is in the page as TeX, and the MathJax that typesets it is beside the page
    assert "h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t" in page
    (mathjax,) = [url for tag, url in links.urls if tag == "script" and "MathJax.js" in url]
    assert mathjax == run_notebooks.MATHJAX_URL and not mathjax.startswith("/")
    folder = tmp_path / run_notebooks.MATHJAX_DIR
    config = mathjax.split("config=")[1].split(",")
    needed = ["MathJax.js", "jax/input/TeX/config.js", "jax/output/HTML-CSS/fonts/STIX-Web/fontdata.js",
              "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Main-Regular.woff"]
    needed += [f"config/{name}.js" for name in config]
    assert [name for name in needed if not (folder / name).is_file()] == []
    assert 'webFont: "STIX-Web"' in page  # the fonts that are there, not the TeX fonts that are not

    # the score (nbconvert prefers its SVG to its PNG) and the player's MP3 are embedded
    images = [url for tag, url in links.urls if tag == "img"]
    assert images == ["data:image/svg+xml;base64," + base64.b64encode(sheet.svg.encode("utf-8")).decode("ascii"),
                      "data:image/png;base64," + base64.b64encode(sheet.png).decode("ascii")]
    assert f'alt="{sheet.description}"' in page and 'alt="A figure in words."' in page
    assert "Alternative text is missing" not in caplog.text
    assert [url for tag, url in links.urls if tag == "audio"] == [
        "data:audio/mpeg;base64," + base64.b64encode(player.mp3).decode("ascii")]


def test_mathjax_is_copied_once(run_notebooks, tmp_path):
    first = run_notebooks.copy_mathjax(tmp_path)
    marker = first / "MathJax.js"
    stamp = marker.stat().st_mtime_ns
    assert run_notebooks.copy_mathjax(tmp_path) == first and marker.stat().st_mtime_ns == stamp
