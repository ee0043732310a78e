"""The web portal: every community's conversations, discussions and synopses, news, events
and resource library, read from the one store and served by the web app of `mailhub serve`.

queries and library read the store; access says who may read what; signin and sessions
sign members in; web, pages, account and modqueue are the routes; links names the URLs
that mail points at.
"""
