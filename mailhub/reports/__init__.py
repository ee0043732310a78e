"""Participation reports: is a network tripartite, regional and alive? Figures read from the
store with SQL aggregates (queries), shaped into reports (figures), drawn as SVG charts
(charts), printed (tables), and mailed to moderators each month (mail, schedule)."""
