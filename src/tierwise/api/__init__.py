"""The REST API: ``tierwise serve SPEC`` (FastAPI over :class:`~tierwise.api.service.ScoringService`)."""
