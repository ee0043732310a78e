"""Exports of a community's archive: mbox files of conversations and months, for readers of
the portal (addresses hidden) and for admins (the mail as it was received)."""
