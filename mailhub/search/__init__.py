"""Search: one index over posts, discussions, synopses, news, events and resources (with the
text inside resource files), one query language, on SQLite FTS5 or PostgreSQL full text."""
