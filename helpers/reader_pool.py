"""Read many MIDI files side by side in worker processes, each file bounded in time.

Used by :func:`helpers.midi_io.load_midi_files` when asked for ``workers`` (not by default: the
compiled reader reads a file of a few kilobytes in about a tenth of a millisecond, less than
handing it to another process costs — ``python -m benchmarks --stages reading`` measures both).
A worker process is what a file needs that must be stopped from outside, or that might crash
its reader. A well-kept pool does the work: ``pebble.ProcessPool``, which gives each file its own timeout and ends (and replaces) the worker
of a file over time, and reports a worker that died. What this module adds is what the
loader needs of it:

- the file's bytes go to the worker (each file is read from disk once, by the loader);
- a file over time is skipped as ``too slow``, a worker that died as ``reader crashed``;
- the order of the results is the order of the files, whichever finishes first;
- however the load ends — Ctrl-C included — no worker is left behind.

On Linux the workers are started by ``fork``: they run the reader the parent has already
imported and never the caller's script again (``spawn`` and ``forkserver`` import the caller's
``__main__``, which re-runs a script that has no ``if __name__ == "__main__":`` guard). Elsewhere
they are started by ``spawn``, as Python advises on macOS, where system libraries make ``fork``
unsafe; a script that loads a large folder there needs that guard (notebooks and
``python -m helpers`` do not).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import TimeoutError as FutureTimeout

from helpers import midi_reader
from helpers.midi_reader import Extract, Limits, MidiLoadError

#: How worker processes start (see the module docstring).
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
#: Files handed to the pool ahead of the workers, per worker: bounds the bytes held in memory.
QUEUED_PER_WORKER = 4

Done = Callable[[int, "Extract | MidiLoadError"], None]


def _read(data: bytes, limits: Limits) -> Extract:
    """The task each worker runs (looked up by name, so a test can replace the reader)."""
    return midi_reader.bytes_to_extract(data, limits)


class ReaderPool:
    """Worker processes reading files' bytes; use as a context manager.

    Args:
        workers: processes reading side by side.
        limits: the per-file limits; ``limits.timeout`` bounds each file in its worker.
        done: called here, in the calling thread, as ``done(index, extract_or_skip)`` for each file.

    The processes start when the first file is handed over (:meth:`submit`).
    """

    def __init__(self, workers: int, limits: Limits, done: Done):
        import pebble

        self.limits, self.done, self.workers = limits, done, workers
        self.running: dict[Future, int] = {}
        self.pool = pebble.ProcessPool(max_workers=workers, context=multiprocessing.get_context(START_METHOD))

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.stop()  # ends the workers still reading (an error or Ctrl-C in the caller)
        self.pool.join()

    def submit(self, index: int, data: bytes) -> bool:
        """Hand one file's bytes to the workers (waits while too many are queued); False when no
        worker process could be started (the caller then reads the file itself)."""
        try:
            future = self.pool.schedule(_read, args=(data, self.limits), timeout=self.limits.timeout)  # starts the processes
        except OSError:
            return False
        self.running[future] = index
        while len(self.running) >= QUEUED_PER_WORKER * self.workers:
            self._collect(FIRST_COMPLETED)
        return True

    def finish(self) -> None:
        """Wait for every file handed over."""
        while self.running:
            self._collect(FIRST_COMPLETED)

    def _collect(self, return_when: str) -> None:
        finished, _ = wait(list(self.running), return_when=return_when)
        for future in finished:
            self.done(self.running.pop(future), self._outcome(future))

    def _outcome(self, future: Future) -> Extract | MidiLoadError:
        import pebble

        try:
            return future.result()
        except MidiLoadError as error:
            return error
        except FutureTimeout:
            return MidiLoadError("too slow", f"over the limit of {self.limits.timeout:g} s per file; stopped")
        except pebble.ProcessExpired as error:
            return MidiLoadError("reader crashed", f"the reader process died (exit code {error.exitcode})")
