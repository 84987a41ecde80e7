"""User-facing errors: one paragraph, no traceback, non-zero exit."""

from __future__ import annotations

import sys
import textwrap

EXIT_CONFIG = 2


class ConfigError(ValueError):
    """A setting or file the user gave is wrong; the message says what would be valid, and ``command``,
    where there is one to type, is printed whole on its own line after it."""

    def __init__(self, key: str, message: str, *, command: str = "") -> None:
        self.key = key
        self.message = message
        self.command = command
        super().__init__(f"{key}: {message}" if key else message)

    def prefixed(self, group: str) -> ConfigError:
        """The same error with its key placed under a config group."""
        return ConfigError(f"{group}.{self.key}" if self.key else group, self.message, command=self.command)


def did_you_mean(given: str, valid) -> str:
    """``"; did you mean X?"`` for the valid choice closest to a misspelt one, or nothing."""
    import difflib

    close = difflib.get_close_matches(str(given), [str(v) for v in valid], n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def exit_with(message: str, code: int = EXIT_CONFIG, *, label: str = "error", command: str = "") -> None:
    """Print ``message`` as one wrapped paragraph on stderr (then ``command`` whole, on its own line, to
    copy) and exit."""
    paragraph = " ".join(message.split())
    # Paths stay whole (copyable): never break at their hyphens or inside them.
    text = textwrap.fill(paragraph, width=100, break_on_hyphens=False, break_long_words=False)
    sys.stderr.write(f"collapse_sim: {label}: {text}\n" + (f"    {command}\n" if command else ""))
    sys.exit(code)


class RunFailure(RuntimeError):
    """A run stopped by a fault, not by its settings: a chain died, a disk filled. One paragraph; exit 1.

    Every generation completed before the fault stays in the store, and a rerun
    into the same directory resumes from there.
    """


def stopped(what: str, run_dir) -> RunFailure:
    """A run that a fault stopped: ``what`` happened, what is kept, and how to go on (the one wording)."""
    failure = RunFailure(
        f"{what}. Every generation complete in every chain is kept in the store; fix the cause and rerun "
        f"into {run_dir} to resume"
    )
    failure.what = what  # for a fault that follows while the run's held generations are written
    return failure


def describe_fault(error: BaseException) -> str:
    """One line for an exception; an ``OSError`` names the path and the reason (``ENOSPC``, ``EIO``, ...)."""
    if isinstance(error, OSError) and error.errno is not None:
        import errno as codes

        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror} ({codes.errorcode.get(error.errno, error.errno)})"
    return f"{type(error).__name__}: {error}"


def first_line(error: BaseException) -> str:
    """An exception's first line of text, or its type's name when it has none (a library's long message
    cut to what a one-paragraph error can quote)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def log_details(text: str) -> None:
    """Write a failure's details (a traceback) to the run's log file only: the terminal gets one paragraph.

    A log that cannot be written (its disk is full) is no second error: the
    paragraph the user sees already says what went wrong.
    """
    import logging

    record = logging.LogRecord("collapse_sim", logging.ERROR, __file__, 0, text, None, None)
    for handler in logging.getLogger().handlers + logging.getLogger("collapse_sim").handlers:
        if not isinstance(handler, logging.FileHandler):
            continue
        try:
            if handler.stream is None:  # a handler opened lazily (delay=True)
                handler.stream = handler._open()
            handler.stream.write(handler.format(record) + handler.terminator)
            handler.stream.flush()
        except (OSError, ValueError):
            pass
