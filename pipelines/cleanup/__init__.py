"""Cleanup: propose batches from the marts, approve exactly what a person saw, apply it through IT Glue's API with
every record saved first, and undo. Plain functions; the Dagster wrappers are in pipelines/assets/cleanup.py."""


class CleanupError(Exception):
    """A refusal or a bad request a user can act on; the message is one line and changes nothing."""
