"""The wire forms both doors share: XML and JSON to and from engine objects, and the XSDs behind them."""
