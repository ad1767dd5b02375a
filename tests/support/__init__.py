"""What the test modules share: helpers, constants and strategies, one module per subject."""
