"""The composition root: settings, the WSGI application, gunicorn settings and the command line.

No business code lives here; these modules only wire the engine and its doors together.
"""
