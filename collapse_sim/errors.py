"""User-facing errors: one paragraph, no traceback, non-zero exit."""

from __future__ import annotations

import sys
import textwrap

EXIT_CONFIG = 2


class ConfigError(ValueError):
    """A setting or file the user gave is wrong; the message says what would be valid."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def prefixed(self, group: str) -> ConfigError:
        """The same error with its key placed under a config group."""
        return ConfigError(f"{group}.{self.key}" if self.key else group, self.message)


def exit_with(message: str, code: int = EXIT_CONFIG) -> None:
    """Print ``message`` as one wrapped paragraph on stderr and exit."""
    paragraph = " ".join(message.split())
    sys.stderr.write("collapse_sim: error: " + textwrap.fill(paragraph, width=100) + "\n")
    sys.exit(code)
