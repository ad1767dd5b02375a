"""Every namespace URI of the contract, once."""

PROCESS = "http://www.infinica.com/process-engine"
DATASTORE = "http://www.infinica.com/datastore"
QUERY = "http://www.infinica.com/query"
FUNCTIONS = "http://www.infinica.com/process-engine/functions"

PREFIXES = {"pe": PROCESS, "dat": DATASTORE, "q": QUERY}


def qname(namespace: str, local: str) -> str:
    """Clark notation, as lxml writes tags: {namespace}local."""
    return f"{{{namespace}}}{local}"
