"""Numbered newsletter issues built from the store, and the mail that carries them."""
