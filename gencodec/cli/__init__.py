"""The ``gic`` command line: the only layer that prints."""
