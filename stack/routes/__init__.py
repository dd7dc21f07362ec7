"""The stack's routes, one module per resource family (see stack/API.md)."""
