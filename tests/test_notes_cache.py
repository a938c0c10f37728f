"""Tests of helpers.notes_cache: the on-disk cache of the notes read from each file."""

from __future__ import annotations

import json

import pytest
from conftest import C_MAJOR_SCALE, Track, write_midi

from helpers import midi_io, midi_reader, notes_cache
from helpers.midi_reader import Limits


def cache_entries():
    from helpers import config

    return sorted((config.CACHE_DIR / "notes").glob("*" + notes_cache.SUFFIX))


def must_not_read(*args, **kwargs):
    raise AssertionError("the cache should have been used")


def test_cache_is_an_npz_of_a_json_header_and_the_notes_and_second_load_reads_it(midi_files, monkeypatch):
    import numpy as np

    path = midi_files["two_part"]
    first, report = midi_io.load_midi_files([path])
    assert report.from_cache == 0
    (entry,) = cache_entries()
    assert not entry.read_bytes().startswith(b"\x80")  # no pickle protocol header: nothing is unpickled
    with np.load(entry, allow_pickle=False) as stored:  # loads without pickle
        header = json.loads(str(stored["header"]))
        assert stored["notes"]["pitch"].tolist() == first["pitch"].tolist()
    assert header["version"] == midi_reader.EXTRACTOR_VERSION
    assert header["instruments"] == ["Violin", "Violoncello"] and header["drum_hits"] == 0

    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    second, report = midi_io.load_midi_files([path])
    assert second.equals(first)
    assert report.used[0]["notes"] == len(first) and report.from_cache == 1


def test_cache_entry_serves_another_name_for_the_same_content(midi_files, tmp_path, monkeypatch):
    midi_io.load_midi_files([midi_files["scale"]])
    copy = tmp_path / "copy of scale.mid"
    copy.write_bytes(midi_files["scale"].read_bytes())
    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    notes, _ = midi_io.load_midi_files([copy])
    assert set(notes["piece"]) == {"copy of scale.mid"}
    assert list(notes["instrument"].unique()) == ["Piano"]


def test_changed_file_is_read_again(tmp_path):
    path = write_midi(tmp_path / "song.mid", [Track(C_MAJOR_SCALE)])
    first, _ = midi_io.load_midi_files([path])
    write_midi(path, [Track(C_MAJOR_SCALE[:3])])
    second, _ = midi_io.load_midi_files([path])
    assert (len(first), len(second)) == (len(C_MAJOR_SCALE), 3)


def rewrite_npz(entry, **changes):
    """Write the entry again with some members changed (``None`` drops a member)."""
    import numpy as np

    with np.load(entry, allow_pickle=False) as stored:
        members = {name: stored[name] for name in stored.files}
    members.update(changes)
    with open(entry, "wb") as handle:
        np.savez(handle, **{name: value for name, value in members.items() if value is not None})


def header_with(entry, **changes):
    import numpy as np

    with np.load(entry, allow_pickle=False) as stored:
        header = json.loads(str(stored["header"]))
    return np.array(json.dumps({**header, **changes}))


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: entry.write_bytes(b"{not a zip" + entry.read_bytes()),
        lambda entry: rewrite_npz(entry, header=header_with(entry, version=1)),  # an old extractor's entry
        lambda entry: entry.write_bytes(entry.read_bytes()[:-30]),  # cut short
        lambda entry: rewrite_npz(entry, header=header_with(entry, instruments=[])),  # parts without names
        lambda entry: rewrite_npz(entry, notes=None),  # no notes
        lambda entry: rewrite_npz(entry, notes=__import__("numpy").zeros(3)),  # notes of another kind
        lambda entry: entry.write_bytes(b""),
    ],
    ids=["not-a-zip", "old-version", "cut-short", "parts-without-names", "no-notes", "wrong-dtype", "empty"],
)
def test_corrupt_cache_entry_is_ignored_and_rewritten(midi_files, damage):
    path = midi_files["scale"]
    first, _ = midi_io.load_midi_files([path])
    (entry,) = cache_entries()
    damage(entry)
    second, report = midi_io.load_midi_files([path])
    assert second.equals(first) and not report.skipped and report.from_cache == 0
    third, report = midi_io.load_midi_files([path])  # the entry was written anew, and serves
    assert third.equals(first) and report.from_cache == 1


def test_cached_skip_is_reused_and_reported_alike(tmp_path, monkeypatch):
    path = write_midi(tmp_path / "silent.mid", [Track([])])
    _, first = midi_io.load_midi_files([path])
    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    _, second = midi_io.load_midi_files([path])
    assert first.skipped == second.skipped and second.skipped[0]["label"] == "no pitched notes"
    assert second.from_cache == 1


def test_cached_notes_still_obey_the_limits(midi_files):
    path = midi_files["scale"]
    midi_io.load_midi_files([path])
    _, report = midi_io.load_midi_files([path], limits=Limits(max_notes=3))
    assert report.from_cache == 1 and report.skipped[0]["label"] == "too many notes"
    _, report = midi_io.load_midi_files([path], limits=Limits(max_quarters=4.0))
    assert report.skipped[0]["label"] == "too long"


def test_cache_can_be_switched_off_and_then_reads_afresh(midi_files, monkeypatch):
    from helpers import config

    midi_io.load_midi_files([midi_files["scale"]])
    calls = []
    real = midi_reader.bytes_to_extract
    monkeypatch.setattr(midi_reader, "bytes_to_extract", lambda *a: calls.append(a) or real(*a))
    notes, report = midi_io.load_midi_files([midi_files["scale"]], cache=False)
    assert len(calls) == 1 and report.from_cache == 0 and len(notes) == len(C_MAJOR_SCALE)
    (config.CACHE_DIR / "notes").rename(config.CACHE_DIR / "gone")
    midi_io.load_midi_files([midi_files["scale"]], cache=False)
    assert not (config.CACHE_DIR / "notes").exists()  # nothing written


def test_each_file_is_read_from_disk_once(midi_files, tmp_path, monkeypatch):
    """The bytes read for the cache key are the bytes the reader decodes: no second read, in
    this process or in a worker (each open is written down in a file, which workers share)."""
    log = tmp_path / "opened.txt"
    real_open = open

    def logging_open(file, *args, **kwargs):
        if str(file).endswith(".mid"):
            with real_open(log, "a") as handle:
                handle.write(f"{file}\n")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", logging_open)
    paths = [midi_files[name] for name in ("scale", "two_part")]
    for workers in (1, 2):
        log.write_text("")
        _, report = midi_io.load_midi_files(paths, cache_dir=tmp_path / f"cache{workers}", workers=workers)
        assert sorted(log.read_text().split()) == sorted(map(str, paths)) and len(report.used) == 2


def test_cache_dir_can_be_chosen(midi_files, tmp_path):
    midi_io.load_midi_files([midi_files["scale"]], cache_dir=tmp_path / "mycache")
    assert len(list((tmp_path / "mycache").glob("*" + notes_cache.SUFFIX))) == 1
