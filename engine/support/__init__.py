"""Small modules every room uses: the clock, random IDs, JSON text and the one hardened XML parser."""
