"""Worked examples of applications built on scimkit (see ``examples/README.md``)."""
