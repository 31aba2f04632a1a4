"""``python -m pipper`` runs the same command line as the ``pipper`` script."""

from pipper.cli import main

if __name__ == "__main__":
    main()
