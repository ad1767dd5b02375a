"""The protocol-neutral process engine: definitions, execution, storage and the operations facade.

Nothing in this package knows about HTTP, SOAP or the wire formats. What the doors (`rest`, `soap`), the
wire formats (`schemas`) and the command line may use is listed in `__all__`: the operations facade and
the values it takes and answers. Everything else (runtime, storage, definitions, the domain features
under the facade) is the engine's own; an import-linter contract in pyproject.toml holds the doors to
this list. The composition root (`config`) also names `runtime.node.ProcessEngine`, which
`operations.new_engine` builds from `settings.EngineSettings`.
"""

__all__ = [
    "operations",       # one function per operation of the spec, and what the command line asks
    "errors",           # the one error hierarchy, which the doors map to HTTP statuses and SOAP faults
    "model",            # pure values: states, data stores, the query tree (CONTRACT §5), what operations answer
    "security",         # who a caller is (authentication) and what they may do (authorization)
    "support",          # the clock, JSON text and the hardened XML parser (not the IDs: the engine's own)
    "settings",         # what the engine is built from, which config fills in
]
