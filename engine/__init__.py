"""The protocol-neutral process engine: definitions, execution, storage and the operations facade.

Nothing in this package knows about HTTP, SOAP or the wire formats; `engine.operations` is the one
entry point the doors call.
"""
