"""One module per training stage."""
