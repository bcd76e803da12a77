"""Synthetic demo workspaces: realistic CRM tables and a spec to score them with."""

from tierwise.demo.generate import generate_workspace

__all__ = ["generate_workspace"]
