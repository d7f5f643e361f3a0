"""Command line: one module per verb group, each with `register(app)`; thin: parse, call, print."""
