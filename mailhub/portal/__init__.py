"""The web portal: every community's conversations, discussions and synopses, news, events
and resource library, read from the one store and served by the web app of `mailhub serve`.

queries and library read the store; access says who may read what; signin and sessions
sign members in; web, pages, account, member_page and moderate are the routes (csrf
checks their forms); cache keeps visitors' pages; links names the URLs that mail points
at.
"""
