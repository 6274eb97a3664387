"""pairtui: pair programming in the terminal."""

__version__ = "0.2.0"
