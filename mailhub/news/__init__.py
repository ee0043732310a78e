"""News items, events and resources: member submissions by mail, the admin's CLI, `.ics` files."""
