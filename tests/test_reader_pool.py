"""Tests of helpers.reader_pool: reading files in worker processes."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from conftest import C_MAJOR_SCALE, Track, write_midi

from helpers import midi_io, midi_reader, reader_pool
from helpers.midi_reader import Limits


def tunes(folder, count=3):
    return [write_midi(folder / f"tune_{i}.mid", [Track([(60 + i, 0.0, 1.0), (64 + i, 1.0, 1.0)])]) for i in range(count)]


#: The tests below replace the reader in this process; workers see the replacement when forked.
forked = pytest.mark.skipif(reader_pool.START_METHOD != "fork", reason="workers are not forked on this system")


@forked
def test_a_reader_process_that_dies_gives_reader_crashed_and_the_load_goes_on(tmp_path, monkeypatch):
    paths = tunes(tmp_path)
    crash = write_midi(tmp_path / "crash.mid", [Track(C_MAJOR_SCALE)])
    crash_bytes, real = crash.read_bytes(), midi_reader.bytes_to_extract

    def dies_on_one_file(data, limits):
        if data == crash_bytes:
            os._exit(3)  # as a segfault in a C extension would end it
        return real(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", dies_on_one_file)
    notes, report = midi_io.load_midi_files([paths[0], crash, *paths[1:]], workers=2)
    assert [e["piece"] for e in report.used] == ["tune_0.mid", "tune_1.mid", "tune_2.mid"]
    assert report.skipped == [{"piece": "crash.mid", "reason": "reader crashed (the reader process died (exit code 3))",
                               "label": "reader crashed"}]
    assert list(dict.fromkeys(notes["piece"])) == ["tune_0.mid", "tune_1.mid", "tune_2.mid"] and len(notes) == 6


@forked
def test_ctrl_c_leaves_no_reader_process(tmp_path, monkeypatch):
    import multiprocessing
    import time

    paths = tunes(tmp_path, 4)
    started = tmp_path / "started"

    def hangs(data, limits):
        with open(started, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(120)

    def ctrl_c_once_both_workers_read():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(started.read_text().split() if started.exists() else []) < 2:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", hangs)
    # Python turns SIGINT into KeyboardInterrupt only if SIGINT was not ignored when it started, and a
    # shell without job control starts background commands with SIGINT ignored (POSIX): as in a terminal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=ctrl_c_once_both_workers_read, daemon=True).start()
    begun = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            midi_io.load_midi_files(paths, workers=2, limits=Limits(timeout=None))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - begun < 90
    workers = {int(pid) for pid in started.read_text().split()}
    assert len(workers) == 2 and os.getpid() not in workers
    assert multiprocessing.active_children() == []
    for pid in workers:
        with pytest.raises(ProcessLookupError):  # ended and reaped: not even a zombie is left
            os.kill(pid, 0)


@forked
def test_workers_none_reads_here_and_workers_two_in_worker_processes(tmp_path, monkeypatch):
    paths = tunes(tmp_path, 3)
    real = midi_reader.bytes_to_extract

    def records_its_process(data, limits):
        with open(tmp_path / "pids", "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", records_its_process)
    serial, _ = midi_io.load_midi_files(paths)
    pids = (tmp_path / "pids").read_text().split()
    assert pids == [str(os.getpid())] * 3  # the default: read here
    (tmp_path / "pids").unlink()
    notes, _ = midi_io.load_midi_files(paths, workers=2)
    pids = (tmp_path / "pids").read_text().split()
    assert len(pids) == 3 and str(os.getpid()) not in pids  # asked for: in worker processes
    assert notes.equals(serial)
