"""`python -m tracknet_cli` is the `tracknet` command."""

from tracknet_cli.cli.app import app

if __name__ == "__main__":  # spawned worker processes import this module too
    app(prog_name="tracknet")
