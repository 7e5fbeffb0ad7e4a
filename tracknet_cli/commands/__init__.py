"""One library function per command: what `tracknet COMMAND` does, callable from Python.

Each resolves its inputs (weights, configs, the task from the table), makes the run directory
once nothing can fail for a bad argument, does the work and returns a result; the CLI (`cli/`)
parses options, calls one of these and prints what it returns.
"""
