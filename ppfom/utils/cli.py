"""The command line every weight converter in ``tools/`` shares."""
import argparse


def src_dst_parser(doc, src_help, dst_help):
    """An ``argparse`` parser with positional ``src`` and ``dst``, described by the first line
    of ``doc`` (the tool's module docstring)."""
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help=dst_help)
    return parser
