"""pipper: private Python packages kept in an S3 bucket.

The package is split so the command line stays thin: ``pipper.cli`` parses and renders,
the core modules (``specs``, ``versions``, ``resolver``, ``downloader``, ``cache``,
``installer``, ``bundle``) do the work, and ``pipper.storage`` hides S3 and local directories
behind one small interface. Nothing heavy is imported here so ``pipper --help`` stays instant.
"""

__version__ = "1.0.0"
