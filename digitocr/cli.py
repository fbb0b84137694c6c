"""The ``digitocr`` command line: parses options, calls the library, maps errors to exit codes."""

from __future__ import annotations

import json
from typing import Any

import click

from . import __version__
from .errors import DigitOCRError


def echo_err(message: str) -> None:
    """One progress or diagnostic line on stderr."""
    click.echo(message, err=True)


class Group(click.Group):
    """Turns domain errors into one clear line and exit status 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigitOCRError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digitocr")
def cli() -> None:
    """Read handwritten digits on scanned documents, and train the models that do it."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugin list as JSON.")
def plugins(as_json: bool) -> None:
    """List loaded plugins and the classifiers, segmenters and writers each registers."""
    from .plugins import describe

    info = describe()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for p in info:
        parts = [f"{kind}: {', '.join(p[kind])}" for kind in ("classifiers", "segmenters", "writers")
                 if p[kind]]
        extra = f" (overridden: {', '.join(p['overridden'])})" if p.get("overridden") else ""
        click.echo(f"{p['name']} [{p['module']}] " + "; ".join(parts) + extra)


def main() -> None:  # pragma: no cover
    cli(prog_name="digitocr")
