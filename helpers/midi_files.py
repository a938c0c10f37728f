"""Find the MIDI files below a folder: what is searched, what is listed, what is passed over.

Explained in notebook 01. :func:`helpers.midi_io.load_midi_folder` reads what is found here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers.constants import MIDI_SUFFIXES


@dataclass
class FolderSearch:
    """What :func:`search_folder` found below one folder.

    ``paths``: the MIDI candidates, sorted by relative path. ``unreadable``: ``(name, reason)``
    of the sub-folders that could not be listed. ``passed_over``: ``(name, reason)`` of what was
    passed over on purpose (hidden files and folders, links back to a folder already searched).
    """

    paths: list[Path] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    passed_over: list[tuple[str, str]] = field(default_factory=list)


def display_name(text: str) -> str:
    """A file name that can always be printed: bytes that are not UTF-8 become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def search_folder(folder: Path | str) -> FolderSearch:
    """Search ``folder`` and its sub-folders for MIDI files (the rules: :func:`find_midi_files`).

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MIDI folder not found: {folder}")
    found, search, seen = [], FolderSearch(), set()
    stack = [folder]
    while stack:
        here = stack.pop()
        try:
            info = os.stat(here)
            if (info.st_dev, info.st_ino) in seen:  # a link back to a folder already walked
                search.passed_over.append((here.relative_to(folder).as_posix() + "/", "a link to a folder searched already"))
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name, reverse=True)  # popped in name order
        except OSError as error:
            search.unreadable.append((here.relative_to(folder).as_posix() + "/", f"unreadable folder ({error.strerror})"))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links; a dangling link is not a folder
            except OSError:
                is_dir = False
            if entry.name.startswith("."):  # hidden: .git, macOS "._song.mid" resource forks
                name = Path(entry.path).relative_to(folder).as_posix()
                if is_dir:
                    search.passed_over.append((name + "/", "a hidden folder (its name starts with '.'), not searched"))
                elif entry.name.lower().endswith(MIDI_SUFFIXES):
                    fork = entry.name.startswith("._")
                    search.passed_over.append((name, "a macOS resource fork ('._' file), not music" if fork
                                               else "a hidden file (its name starts with '.')"))
                continue
            if is_dir:
                stack.append(Path(entry.path))  # even when named like "x.mid"
            elif entry.name.lower().endswith(MIDI_SUFFIXES):
                found.append(Path(entry.path))  # regular files, and odd entries the loader reports
    search.paths = sorted(found, key=lambda p: p.relative_to(folder).as_posix())
    search.passed_over.sort()
    return search


def find_midi_files(folder: Path | str) -> list[Path]:
    """List the MIDI files below ``folder``, searched recursively, sorted by relative path.

    Names ending in ``.mid`` or ``.midi`` in any letter case count, with spaces or any
    characters. On purpose:

    - hidden files and folders (names starting with ``.``, such as ``.git`` or macOS's
      ``._song.mid`` resource forks) are passed over; :func:`helpers.midi_io.load_midi_folder`
      names them (hidden folders, and hidden files named like MIDI) in ``report.passed_over``;
    - a folder named like a MIDI file (``album.mid/``) is searched, not read;
    - links to folders are followed, each folder walked once, so a link loop ends (the link
      that leads back is named in ``report.passed_over`` too);
    - links that point nowhere, unreadable files and special files (a FIFO named ``x.mid``)
      *are* listed: :func:`helpers.midi_io.load_midi_files` reports each as skipped with its reason.

    Args:
        folder: the folder to search.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a folder.

    >>> paths = find_midi_files(config.DATA_DIR)  # doctest: +SKIP
    """
    return search_folder(folder).paths
