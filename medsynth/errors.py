"""Errors that reach the user: each names the input at fault and what to do about it."""

from __future__ import annotations


class MedsynthError(Exception):
    """An error the CLI reports without a traceback (exit code 2).

    ``hint`` tells the user how to fix it; ``source`` names the file, row or record at fault.
    """

    def __init__(self, message: str, *, hint: str = "", source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.source = source

    def __str__(self) -> str:
        text = f"{self.source}: {self.message}" if self.source else self.message
        return f"{text}\n  fix: {self.hint}" if self.hint else text


class WorkspaceError(MedsynthError):
    """The workspace is missing, incomplete or was made by a newer MedSynth."""


class ConfigError(MedsynthError):
    """``medsynth.toml`` cannot be read or holds invalid values."""


class InputError(MedsynthError):
    """An input file or folder cannot be used."""


class FolderNotEmptyError(InputError):
    """A folder that must be new or empty holds files (``source`` names it)."""


class Cancelled(Exception):
    """The user stopped a running job (the TUI's cancel); everything finished is kept."""
