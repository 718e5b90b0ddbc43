"""Test support for scimkit users and scimkit's own tests."""
