"""Process definitions (IPD, CONTRACT §7): the parsed element tree, expressions, repository and cache.

A definition is a specification; nothing here holds the state of a running instance (that is
`engine.runtime`).
"""
