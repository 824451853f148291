"""The web console at ``/console``: sign-in, session cookie, static single-page app."""
