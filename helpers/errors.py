"""The one root of every error the helpers raise on purpose.

``MusicGenError`` means "the input or a file is not what was needed"; its message says what
was wrong with which file and what to do. The command line catches it (one line on stderr,
exit status 2) and lets every other exception — a programming error — show its traceback.
Each module keeps its own subclass (``MidiError``, ``TokenError``, ``RunError`` …) so that a
caller can catch one kind; the ones that used to be ``ValueError`` still are, so older code that
caught ``ValueError`` keeps working.
"""


class MusicGenError(Exception):
    """Base class of the errors raised by ``helpers`` for bad input, missing files or broken runs."""


class OptionError(MusicGenError, ValueError):
    """Settings that cannot work together, or a setting the reader gave that is out of range."""


class DataError(MusicGenError, ValueError):
    """Music too short or empty for the step asked: no window of ``seq_length``, a piece or primer without notes."""
