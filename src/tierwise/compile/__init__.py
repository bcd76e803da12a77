"""Spec to Ibis expressions: conditions and scoring. No I/O and no connection here."""
