"""Hostile and unlucky users of a shared logs folder, one file per threat (README.md)."""
