"""Errors a person can act on. The CLI prints their message as is, without a traceback."""


class CleanwireError(Exception):
    """Base of every error whose message is written for the person running cleanwire."""


class StorageError(CleanwireError):
    """A storage operation failed for a reason a person has to fix (missing bucket, no permission...)."""


class PipelineError(CleanwireError):
    """A run that cannot or must not publish (bad arguments, a broken contract, unbalanced accounting)."""
