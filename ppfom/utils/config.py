"""YAML configs (PyYAML + munch), PaddleGAN style: ``get_config(path, overrides)``."""
import os

import yaml
from munch import Munch, munchify


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the file or key."""


def load_config(path):
    """Read a YAML file into a :class:`munch.Munch` (attribute and key access).

    Raises :class:`ConfigError` for a missing file, invalid YAML or a top level that is not a
    mapping.
    """
    if not os.path.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        problem = getattr(exc, 'problem', None) or type(exc).__name__
        raise ConfigError(f'{path} is not valid YAML{where} ({problem}); fix the file') from exc
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: the top level must be a mapping')
    return munchify(data)


def override_config(cfg, options):
    """Apply ``key.sub=value`` overrides (``-o`` on the command line) in place.

    Values are parsed as YAML (``1e-4``, ``[1, 2]``, ``true``, ``[{name: X, p: 1}]``: mappings,
    also inside lists, read like the file's own). Only existing keys may be set:
    a typo raises :class:`ConfigError` naming the key and the keys that exist at that level.
    """
    for option in options or []:
        if '=' not in option:
            raise ConfigError(f"override '{option}' must look like key.sub=value")
        dotted, raw = option.split('=', 1)
        keys = dotted.split('.')
        node = cfg
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                where = '.'.join(keys[:depth]) or '<top>'
                known = ', '.join(sorted(node)) if isinstance(node, dict) else '(not a mapping)'
                raise ConfigError(f"unknown config key '{dotted}': no '{key}' under {where} "
                                  f'(known: {known})')
            if depth == len(keys) - 1:
                value = yaml.safe_load(raw)
                node[key] = munchify(value) if isinstance(value, (dict, list)) else value
            else:
                node = node[key]
    return cfg


def get_config(path, overrides=None):
    """:func:`load_config` then :func:`override_config`."""
    return override_config(load_config(path), overrides)


def to_dict(cfg):
    """A plain ``dict`` copy of a (munch) config, for saving or ``**kwargs``."""
    return Munch.toDict(cfg) if isinstance(cfg, Munch) else dict(cfg)
