"""The declarative spec: models, loading with located errors, JSON Schema."""

from tierwise.spec.loader import SpecError, SpecFile, load_spec, load_spec_text
from tierwise.spec.model import Spec

__all__ = ["Spec", "SpecError", "SpecFile", "load_spec", "load_spec_text"]
