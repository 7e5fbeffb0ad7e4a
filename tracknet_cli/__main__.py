"""`python -m tracknet_cli` is the `tracknet` command."""

from tracknet_cli.cli.app import app

app(prog_name="tracknet")
