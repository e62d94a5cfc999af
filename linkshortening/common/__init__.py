"""Shared helpers (atomic files, retries, secrets, names, user errors); imports no subject."""
