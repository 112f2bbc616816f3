"""hclforge command line: the only package that imports click."""

import gc

# Collect cycles 100x less often in the CLI. Its start-up allocates many objects that
# live as long as the process (click's commands, pydantic's model classes), and the
# default thresholds walk them again and again: 7 ms of a 120 ms start. Cycles are
# still collected; this package is the program, so setting it here is setting it once.
gc.set_threshold(100_000, 50, 100)
