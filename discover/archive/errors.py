"""The archive's one error type."""


class ArchiveError(ValueError):
    """An archive or run that cannot be used as asked; the message is one line naming file and field."""
