"""Stores behind one interface (``base.Storage``): S3, a local directory, bundle URLs, memory."""
