"""The web side: unsubscribe and confirmation pages now, the archive portal later."""
