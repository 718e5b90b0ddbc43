"""Benchmarks for scimkit: HTTP-level load (Entra sync, ceiling) and micro-benchmarks.

Run them as modules from the repository root, e.g. ``python -m benchmarks.entra_sync --help``;
see ``benchmarks/README.md``. They are not part of the test command.
"""
