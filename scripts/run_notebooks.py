"""Execute the numbered notebooks in order, headless, each in a fresh kernel.

    python scripts/run_notebooks.py              # executed copies go to outputs/notebooks/
    python scripts/run_notebooks.py --in-place   # refresh the committed notebooks (maintainers)
    python scripts/run_notebooks.py 03 04        # only the notebooks whose names start so

The committed notebooks are executed in the default (fast) mode with ``--in-place``; their
outputs are what nbval compares against in ``./test.sh``.

Beside each executed copy goes ``outputs/notebooks/NN_name.html``, read in any browser with no
network: images, scores and players are embedded, no script or style is fetched from a CDN
(nbconvert's template asks for require.js, MathJax and mermaid from one), and the equations
are typeset by the MathJax 2.7 that the pip package jupyter-server-mathjax ships, copied once
to ``outputs/notebooks/mathjax/`` and named by a relative URL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "outputs" / "notebooks"
#: Folder of MathJax beside the HTML files, and the script the pages load from it (relative URL).
MATHJAX_DIR = "mathjax"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
#: nbconvert's lab template without what it would fetch from the network: MathJax 2.7 comes from
#: the folder beside the page, with the STIX-Web fonts it ships (as the classic notebook set it);
#: require.js (for widgets, which these notebooks do not use) and mermaid (for diagrams, none
#: here) are left out. An image's ``alt`` metadata (a score's description, a figure's alt text)
#: becomes the alt text of its ``<img>``, which the lab template leaves out.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});
</script>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
{%- block data_svg scoped -%}
{%- set alt = (output | get_metadata('alt', 'image/svg+xml')) or (output | get_metadata('alt', 'image/png')) -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
<img src="data:image/svg+xml;base64,{{ output.data['image/svg+xml'] | text_base64 | escape_html }}"
{%- if alt %} alt="{{ alt | escape_html }}"{% endif %}>
</div>
{%- endblock data_svg -%}
{%- block data_png scoped -%}
{%- set alt = output | get_metadata('alt', 'image/png') -%}
{%- set width = output | get_metadata('width', 'image/png') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alt %} alt="{{ alt | escape_html }}"{% endif %}{% if width %} width={{ width | escape_html }}{% endif %}>
</div>
{%- endblock data_png -%}
"""


def copy_mathjax(folder: Path) -> Path:
    """Copy the MathJax of the pip package jupyter-server-mathjax to ``folder/mathjax`` (once)."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise SystemExit("jupyter-server-mathjax is not installed: pip install -r requirements.txt") from error
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = folder / MATHJAX_DIR
    if not (target / "MathJax.js").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def notebook_to_html(notebook, path: Path) -> Path:
    """Write an executed notebook as an HTML page that reads offline; MathJax goes beside it.

    Args:
        notebook: an ``nbformat`` notebook node.
        path: the ``.html`` file to write; ``mathjax/`` is copied into its folder.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", embed_images=True, mathjax_url=MATHJAX_URL,
        extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
    )
    exporter.template_file = "offline.html.j2"
    page, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": path.stem, "path": str(NOTEBOOKS)}})
    path.parent.mkdir(parents=True, exist_ok=True)
    copy_mathjax(path.parent)
    path.write_text(page, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="prefixes of the notebooks to run (default: all)")
    parser.add_argument("--in-place", action="store_true", help="overwrite the notebooks in notebooks/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take")
    args = parser.parse_args()

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in args.only)]
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ["MUSICGEN_STATIC"] = "1"  # headless: notebook 10 shows its piece, not widgets no one can turn
    failed = []
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no start-up notices from the kernel
        )
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as error:
            failed.append(path.name)
            status = f"FAILED: {str(error).strip().splitlines()[-1]}"
        target = path if args.in_place and status == "ok" else OUT / path.name
        nbformat.write(notebook, target)
        page = notebook_to_html(notebook, OUT / path.with_suffix(".html").name)
        print(f"{path.name}: {status} ({time.perf_counter() - start:.0f} s) -> {target.relative_to(ROOT)}, "
              f"{page.relative_to(ROOT)}", flush=True)
    generated = sorted((ROOT / "outputs" / "generated").glob("*.mid"))
    if generated:
        print(f"generated music: {len(generated)} MIDI file(s) in outputs/generated/, newest {generated[-1].name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
