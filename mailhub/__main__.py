"""`python -m mailhub` runs the command line."""

from mailhub.cli import main

main()
