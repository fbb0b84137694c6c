"""The ``digitocr`` command line: parses options, calls the library, maps errors to exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import __version__
from .console import debug_log as debug_log  # where they were before console.py
from .console import echo_err
from .console import stop_on_signals as stop_on_signals
from .errors import DigitOCRError, ExitCode

#: --timeout-per-file's default: minutes for a long PDF at 300 dpi, far past any sane page
DEFAULT_FILE_TIMEOUT = 120.0
EXIT_HELP = (
    "Exit status: 0 every file read, 1 some files failed (each has an error record), 2 usage "
    "or bad option, template or model, 3 the output could not be written, 130/143 "
    "interrupted (SIGINT/SIGTERM)."
)


class Group(click.Group):
    """Turns domain errors into one clear line and their ``ExitCode`` instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigitOCRError as exc:
            echo_err(f"Error: {exc}")
            raise click.exceptions.Exit(int(exc.exit_code)) from exc
        except KeyboardInterrupt as exc:
            echo_err("interrupted")
            raise click.exceptions.Exit(int(ExitCode.INTERRUPTED)) from exc


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_HELP)
@click.version_option(__version__, prog_name="digitocr")
@click.option("--plugins", "plugin_modules", multiple=True, metavar="MODULE",
              help="Load plugins from these modules too (repeat or comma-separate; also "
              "DIGITOCR_PLUGINS).")
def cli(plugin_modules: tuple[str, ...]) -> None:
    """Read handwritten digits on scanned documents, and train the models that do it."""
    if plugin_modules:
        from .plugins import add_plugin_modules

        add_plugin_modules([m.strip() for value in plugin_modules for m in value.split(",")
                            if m.strip()])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugin list as JSON.")
def plugins(as_json: bool) -> None:
    """List loaded plugins and the classifiers, string readers, segmenters and writers of each
    (and the third-party plugins that failed to load)."""
    from .plugins import KINDS, describe

    info = describe()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for p in info:
        parts = [
            f"{kind}: {', '.join(p[kind])}"
            for kind in KINDS
            if p[kind]
        ]
        extra = f" (overridden: {', '.join(p['overridden'])})" if p.get("overridden") else ""
        if p.get("error"):
            parts, extra = [f"error: failed to load, skipped ({p['error']})"], ""
        click.echo(f"{p['name']} [{p['module']}] " + "; ".join(parts) + extra)


@cli.command()
@click.argument("model")
def export(model: str) -> None:
    """Write the ONNX files that reading runs, from a model's Keras files (needs Keras).

    MODEL is a model directory or a shipped model's name. ``train`` does this itself; use it
    for a model saved before ONNX export, or after editing its weights by hand.
    """
    from .backends import export_model

    report = export_model(model)
    if report is None:
        click.echo(f"{model}: this backend runs no network; nothing to export")
        return
    reports = report.get("members", {"": report})
    for name, rep in reports.items():
        if rep:
            where = f"{model}/{name}" if name else model
            click.echo(f"{where}: wrote {rep['file']} (opset {rep['opset']}, "
                       f"largest difference from Keras {rep['max_abs_diff']:.1e})")


data_option = click.option(
    "--data",
    type=click.Path(exists=True, path_type=str),
    default=None,
    envvar="DIGITOCR_DATA",
    show_envvar=True,
    help="MNIST IDX folder (or a folder holding mnist/), an .npz, a folder of digit "
    "sub-folders 0-9, or string images with per-digit boxes (*.coco.json; split by image). "
    "String readers: a folder with labels.csv. Without it MNIST is downloaded through Keras.",
)


class TrainCommand(click.Command):
    """``train`` with the options the backends declare (``register_training_options``), found
    when it parses or prints its help: importing this module loads no plugin."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        from .trainopts import with_backend_params

        return with_backend_params(super().get_params(ctx))


@cli.command(cls=TrainCommand)
@click.argument("backend", default="cnn")
@data_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Model directory to write [default: runs/BACKEND].")
@click.option("--extra", multiple=True, type=click.Path(exists=True, path_type=str),
              help="Extra labelled data (.npz or digit folders), normalised like document "
              "crops; repeatable.")
@click.option("--extra-holdout", type=click.FloatRange(0, 0.9), default=0.2, show_default=True,
              help="Fraction of each --extra source held out (seeded) and reported, never "
              "trained on.")
@click.option("--holdout-seed", type=int, default=0, show_default=True,
              help="Seed of the --extra hold-out split, apart from --seed so that models "
              "trained with different seeds hold out the same items.")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="Epochs for networks [default: 20].")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Mini-batch size for networks [default: 64].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: a seeded run is reproducible.")
@click.option("--val-split", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of the training data held out for validation / early stopping.")
@click.option("--oversample/--no-oversample", default=True, show_default=True,
              help="Balance classes with RandomOverSampler, as in the paper.")
@click.option("--scan", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of training images replaced by a simulated scan of themselves "
              "(ink, blur, noise, JPEG, binarisation, as read sees a page).")
@click.option("--rotation", type=click.FloatRange(0, 180), default=None,
              help="Augmentation: maximum rotation in degrees [default: 10].")
@click.option("--shift", type=click.FloatRange(0, 0.5), default=None,
              help="Augmentation: maximum shift as a fraction of the size [default: 0.1].")
@click.option("--zoom", type=click.FloatRange(0, 0.5), default=None,
              help="Augmentation: maximum zoom in or out [default: 0.1].")
@click.option("--arch", type=click.Choice(["paper", "wide", "deep"]), default=None,
              help="CNN architecture: the paper's network, a wider one, or a deeper one with "
              "strided convolutions instead of pooling [default: paper].")
@click.option("--lr-schedule", type=click.Choice(["constant", "plateau", "cosine"]),
              default=None,
              help="Learning rate: Adam's constant default, halved when validation loss "
              "stalls, or annealed along a cosine to 1% by the last epoch [default: constant].")
@click.option("--patience", type=click.IntRange(1), default=None,
              help="Early stopping: epochs without a better validation loss [default: 3].")
@click.option("--lr", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Adam learning rate [default: 0.001].")
@click.option("--init", "init_model", default=None,
              help="Start from this trained CNN's weights (name or directory): fine-tuning.")
@click.option("--limit", type=click.IntRange(10), default=None,
              help="Train on a stratified subset of this many MNIST images (quick runs).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Backend option (JSON value), e.g. --set k=3 for knn; repeatable.")
@click.option("--val", "val_dir", type=click.Path(exists=True, file_okay=False, path_type=str),
              default=None, help="String readers: a labelled folder for validation (best "
              "epoch, the score reported) [default: a seeded --val-split of --data].")
@click.option("--synthetic", type=click.IntRange(0), default=0, show_default=True,
              help="String readers: synthetic strings of MNIST digits mixed in, so that a "
              "small set does not make the reader forget.")
@click.option("--copies", type=click.IntRange(0), default=2, show_default=True,
              help="String readers: augmented copies of each real crop.")
@click.option("--jitter", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="String readers: the share of crops warped afresh each time they are "
              "shown (width, slant, height, margins, stroke).")
@click.option("--alphabet", default=None,
              help="String readers: the characters the reader writes (digits and ASCII "
              "letters), e.g. 0123456789ab; labels with others are skipped [default: the "
              "--init model's, the ten digits].")
@click.option("--force", is_flag=True, help="Overwrite a model already in --out.")
def train(backend: str, **values: Any) -> None:
    """Train a BACKEND (cnn, knn, svm, ensemble, crnn, or a plugin's) and save it with metadata.

    A string reader (crnn) trains on a folder of crops with a labels.csv (file,text), and
    fine-tunes the shipped crnn unless --init names another start (--init none: from scratch).
    """
    from .plugins import get_string_readers
    from .trainopts import classifier_config, string_config

    if backend in get_string_readers():
        from .strtrain import train_strings

        scfg = string_config(backend, values)
        smeta = train_strings(scfg, echo_err)
        click.echo(f"{scfg.out}: validation exact match "
                   f"{smeta['metrics']['validation_exact_match']:.4f} "
                   f"({smeta['metrics']['validation_items']} crops), "
                   f"trained in {smeta['wall_time_s']}s")
        return
    from .training import headline
    from .training import train as run_training

    config = classifier_config(backend, values)
    meta = run_training(config, progress=echo_err)
    click.echo(f"{config.out}: {headline(meta)}, trained in {meta['wall_time_s']}s")


@cli.command()
@click.option("--model", "model_name", default="cnn", show_default=True,
              help="Model name (in models/) or model directory.")
@data_option
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True,
              help="MNIST split to evaluate on (ignored for .npz and folders).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Evaluate on the first N items only.")
@click.option("--layout", default="auto", show_default=True,
              help="String data (a folder with labels.csv): the layout read uses.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="String data: worker processes, as for read.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--figures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the PNG figures [default: evaluation/MODEL--DATA].")
@click.option("--no-figures", is_flag=True, help="Skip the figures.")
def evaluate(
    model_name: str,
    data: str | None,
    split: str,
    limit: int | None,
    layout: str,
    workers: int | None,
    as_json: bool,
    figures: Path | None,
    no_figures: bool,
) -> None:
    """Score a model on labelled data it did not train on.

    Digits (MNIST, .npz, class folders): accuracy, precision, recall, F1, confusion matrix and
    ROC AUC. Strings (a folder with labels.csv): read as read reads them; exact match, character
    error rate, per length, flagged and unflagged-wrong shares, calibration.
    """
    from .evalrun import evaluate_digits, evaluate_strings, format_string_metrics
    from .extras import check

    folder = Path(data) if data is not None and (Path(data) / "labels.csv").is_file() else None
    check("evaluate", "evaluate", *(() if folder is not None else ("sklearn",)),
          *(() if no_figures else ("matplotlib",)))
    if folder is not None:
        metrics = evaluate_strings(model_name, folder, limit, layout, workers, figures,
                                   no_figures)
        text = format_string_metrics
    else:
        from .metrics import format_metrics

        metrics = evaluate_digits(model_name, data, split, limit, figures, no_figures)
        text = format_metrics
    click.echo(json.dumps(metrics) if as_json else text(metrics))


@cli.command()
@data_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eda"),
              show_default=True, help="Folder for the figures and report.md.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train",
              show_default=True, help="MNIST split to explore.")
@click.option("--limit", type=click.IntRange(10), default=None,
              help="Explore a stratified subset of this many images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for samples.")
@click.option("--rotation", type=click.FloatRange(0, 180), default=10.0, show_default=True,
              help="Augmentation shown: maximum rotation in degrees.")
@click.option("--shift", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Augmentation shown: maximum shift (fraction).")
@click.option("--zoom", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Augmentation shown: maximum zoom.")
def eda(
    data: str | None, out: Path, split: str, limit: int | None, seed: int,
    rotation: float, shift: float, zoom: float,
) -> None:
    """Exploratory data analysis: class balance, pixel statistics, samples, augmentation."""
    from .extras import check

    check("eda", "evaluate", "sklearn", "imblearn", "matplotlib")
    from .evalrun import explore

    click.echo(str(explore(data, out, split, limit, seed, rotation, shift, zoom)))


@cli.command(epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, metavar="FILE|DIR|-...")
@click.option("--model", default="auto", show_default=True,
              help="Model name (in models/) or directory. auto: free strings and cut cells by "
              "the whole-string reader, checked by the digit CNN; combs and digits by the CNN.")
@click.option("--layout", default="auto", show_default=True,
              help="Page layout: auto, boxes, string, digit, cheque (or a plugin's).")
@click.option("--format", "fmt", default=None,
              help="Output format: json, jsonl, csv (a row per field), wide (a CSV row per "
              "page), parquet (default: from --output's suffix, else json).")
@click.option("--per-page", is_flag=True,
              help="One CSV row per page, a column per field (--format wide).")
@click.option("-o", "--output", default=None,
              help="Output file (written atomically, or appended to with --resume); default "
              "stdout.")
@click.option("--resume", is_flag=True,
              help="Append to -o FILE, skipping the files it has complete records of (its "
              "journal FILE.journal says which); jsonl, csv, or wide with --template.")
@click.option("--scheduler", default=None, metavar="ADDRESS|local",
              help="Read on a Dask cluster: its scheduler (tcp://HOST:8786), or local for a "
              "LocalCluster of --workers processes.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Fields below this confidence need review (their text keeps the best reading) "
              "[default: the model's own threshold, 0.9 for auto].")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Parallel worker processes (default: the number of cores; fewer than 16 "
                   "files are then read in-process; never more than the files). Output "
                   "order stays the input order. With --scheduler local: the cluster's "
                   "worker processes.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON of named rectangles to read instead of finding fields.")
@click.option("--annotate", type=click.Path(file_okay=False), default=None,
              help="Write annotated page images (PNG) into this folder, named by each "
              "file's path below the inputs' common folder (a/x.jpg-p1.png).")
@click.option("--dpi", type=click.IntRange(50, 1200), default=300, show_default=True,
              help="Resolution for rendering PDF pages.")
@click.option("--polarity", type=click.Choice(["auto", "dark", "bright"]), default="auto",
              show_default=True, help="Ink darker (dark) or brighter (bright) than the paper.")
@click.option("--deskew/--no-deskew", default=True, show_default=True, help="Straighten pages.")
@click.option("--max-pixels", type=click.IntRange(1), default=60_000_000, show_default=True,
              help="Refuse pages larger than this many pixels.")
@click.option("--timeout-per-file", type=click.FloatRange(0), default=DEFAULT_FILE_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="A file that takes longer to decode and segment gets an error record and "
              "the batch goes on (0: no limit).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, per-file error lines or decoder (libtiff) warnings.")
@click.option("--rules", type=click.Path(exists=True, dir_okay=False), default=None,
              help='JSON object of segmentation rule overrides, e.g. {"wide": 1.2} '
              "(digitocr.segment.SegmentRules).")
@click.option("--debug", is_flag=True,
              help="Log to stderr, a line per segment of each field, its candidate readings "
              "(the rule that proposed each, its prior and score) and which won.")
@click.option("--include-printed", is_flag=True,
              help="Read printed fields too (a table's columns of printed row numbers and "
              "names, style printed); by default only handwriting is read.")
@click.option("--full-resolution", is_flag=True,
              help="Read large pages (over twice 150 dpi A4) at full resolution, not reduced "
              "to about 150 dpi (slower; boxes are in the page's pixels either way).")
def read(paths: tuple[str, ...], **options: Any) -> None:
    """Read handwritten digits from images and PDFs (a folder reads every file in it)."""
    from .batch import read_batch

    if read_batch(paths, **options):
        raise click.exceptions.Exit(int(ExitCode.FILES_FAILED))


@cli.group()
def template() -> None:
    """Templates of known forms: make one from a reference page, check scans against it."""


@template.command("make")
@click.argument("page", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The template file (JSON) to write.")
@click.option("--annotate", type=click.Path(dir_okay=False), default=None,
              help="Also write the page with its numbered fields drawn (PNG), to rename them.")
@click.option("--dpi", type=click.IntRange(50, 1200), default=300, show_default=True,
              help="Resolution for rendering a PDF page.")
def template_make(page: str, output: str, annotate: str | None, dpi: int) -> None:
    """Find the boxes, combs and table cells of a reference PAGE (blank or filled; a file's
    first page) and write a template: one field each (field_1...), with its reference picture
    for registration. Rename the fields and add their rules (type, length, checksum...)."""
    from .errors import OutputError
    from .io import load_pages
    from .templates import annotate_template, make_template, save_template

    first = next(load_pages(page, dpi=dpi, gray=True), None)
    if first is None:
        raise click.UsageError(f"{page} has no pages")
    t = make_template(first.image)
    try:
        save_template(t, output)
        if annotate:
            annotate_template(first.image, t, annotate)
    except OSError as exc:
        raise OutputError(f"{output}: cannot write ({exc.strerror or exc})") from exc
    combs = sum(1 for f in t.fields if f.cells)
    click.echo(f"{output}: {len(t.fields)} fields ({combs} combs) on a {t.width} x {t.height} "
               "page")


@template.command("check")
@click.argument("template_file", metavar="TEMPLATE", type=click.Path(exists=True, dir_okay=False))
@click.argument("paths", nargs=-1, required=True, metavar="FILE|DIR...")
@click.option("--dpi", type=click.IntRange(50, 1200), default=300, show_default=True,
              help="Resolution for rendering PDF pages.")
def template_check(template_file: str, paths: tuple[str, ...], dpi: int) -> None:
    """Register every page of the scans to TEMPLATE: one line a page; exit status 1 when a
    page does not register."""
    from .io import expand_inputs
    from .templates import check, load_template

    t = load_template(template_file)
    files = expand_inputs(paths)
    if not files:
        raise click.UsageError("no images or PDFs found in the given folders")
    total = failed = 0
    for c in check(t, files, dpi=dpi):
        total += 1
        failed += not c.ok
        click.echo(c.line())
    click.echo(f"{total - failed} of {total} pages registered")
    if failed:
        raise click.exceptions.Exit(int(ExitCode.FILES_FAILED))


def main() -> None:  # pragma: no cover
    cli(prog_name="digitocr")
