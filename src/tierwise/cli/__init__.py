"""The tierwise command line (Typer + Rich)."""
