"""Compatibility: the reference's option names (``reference_options``) and our own old import
paths (``old_paths``: one more release with a deprecation warning)."""
