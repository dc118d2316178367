"""Errors a person can act on. The CLI prints their message as is, without a traceback."""


class CleanwireError(Exception):
    """Base of every error whose message is written for the person running cleanwire."""


class StorageError(CleanwireError):
    """A storage operation failed for a reason a person has to fix (missing bucket, no permission...)."""


class TransientStorageError(CleanwireError):
    """A storage fault that may heal by waiting (throttling, 5xx, timeout, dropped connection) and
    outlasted botocore's own attempts: the storage tasks retry it with backoff, then the run fails."""


class PipelineError(CleanwireError):
    """A run that cannot or must not publish (bad arguments, a broken contract, unbalanced accounting)."""


class UsageError(CleanwireError):
    """A setting, argument or source the user named is unknown, invalid or missing: nothing was run or
    written (the CLI's exit code 2)."""
