"""How `tracknet --help` reads: commands in the order of a model's life, help texts that wrap at
the terminal's width."""

from __future__ import annotations

import inspect

import click
from typer.core import TyperGroup

LIFECYCLE = ("prepare", "train", "eval", "predict-video", "adapt", "export", "benchmark")


def unwrapped(text: str | None) -> str | None:
    """Help text with each paragraph of prose on one line: docstrings break lines at the source's
    width, which a terminal would show as broken lines mid-sentence. An "Example(s):" paragraph
    keeps a command per line."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join("\n".join(line.strip() for line in paragraph.splitlines())
                        if paragraph.startswith("Example") else " ".join(paragraph.split())
                        for paragraph in paragraphs)


class HelpGroup(TyperGroup):
    """A command group listing LIFECYCLE's commands first, in that order, then the rest as
    registered, each with its help unwrapped."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return [name for name in LIFECYCLE if name in names] + [name for name in names if name not in LIFECYCLE]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            command.help = unwrapped(command.help)
        return command
