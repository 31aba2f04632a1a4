"""Command behaviour through the CLI runner or ``python -m pipper``: output, exit codes, options.

These use the session S3 server (or a local directory repository) for ordinary command flows.
"""
