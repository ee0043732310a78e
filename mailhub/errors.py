"""Errors a person is meant to read.

    MailhubError            anything the CLI prints as one line, exit code 1
    ├── NotFound            a community, member, theme or row that does not exist
    ├── Conflict            the thing exists already, or its state forbids the change
    └── InvalidInput        a value outside its allowed form (names the field)

Configuration errors are `mailhub.config.ConfigError` (exit code 2).
"""

from __future__ import annotations


class MailhubError(Exception):
    """A failure with a message fit to show a person as it is."""

    exit_code = 1


class NotFound(MailhubError):
    """The named thing does not exist."""


class Conflict(MailhubError):
    """The thing exists already, or its current state forbids the change."""


class InvalidInput(MailhubError):
    """A value is not in the form expected; the message names the field."""

    exit_code = 2
