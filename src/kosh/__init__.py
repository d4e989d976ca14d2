"""KOSH: stock control for manufacturers that also sell online."""

__version__ = "0.1.0"
