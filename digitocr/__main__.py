"""``python -m digitocr``: the command line, also from a source checkout without installing."""

from digitocr.cli import main

if __name__ == "__main__":
    main()
