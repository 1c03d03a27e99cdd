"""Persistence: SQLAlchemy tables and repositories, and code blobs stored by checksum."""
