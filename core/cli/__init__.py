"""Command-line tool `atc`."""
