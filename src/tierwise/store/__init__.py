"""Durable stores: the routing audit log."""

from tierwise.store.audit import AuditLog

__all__ = ["AuditLog"]
