"""mailhub behind a real MTA: the Postfix maps it needs (postfix.py) and a check of a
running Postfix's settings against them (postconf.py)."""
