"""Name -> class registries, built from YAML in PaddleGAN's style (``name:`` plus kwargs)."""
import inspect


class Registry:
    """A named table of classes (or factory functions).

    Usage::

        MODELS = Registry('MODELS')

        @MODELS.register()
        class FirstOrderModel: ...

        MODELS.get('FirstOrderModel')

    Raises ``KeyError`` (listing what exists) for an unknown name and ``KeyError`` for a name
    registered twice.
    """

    def __init__(self, name):
        self._name = name
        self._obj_map = {}

    @property
    def name(self):
        return self._name

    def __contains__(self, name):
        return name in self._obj_map

    def __iter__(self):
        return iter(self._obj_map.items())

    def keys(self):
        return sorted(self._obj_map)

    def _do_register(self, name, obj):
        if name in self._obj_map and self._obj_map[name] is not obj:
            raise KeyError(f"'{name}' is already registered in {self._name}")
        self._obj_map[name] = obj

    def register(self, obj=None, name=None):
        """Register ``obj`` under ``name`` (default: its ``__name__``); usable as a decorator."""
        if obj is None:
            def deco(func_or_class):
                self._do_register(name or func_or_class.__name__, func_or_class)
                return func_or_class
            return deco
        self._do_register(name or obj.__name__, obj)
        return obj

    def get(self, name):
        if name not in self._obj_map:
            raise KeyError(f"no '{name}' in registry {self._name}; known: {', '.join(self.keys())}")
        return self._obj_map[name]


def build_from_config(cfg, registry, default_args=None):
    """Build ``registry[cfg['name']](**rest, **default_args)``.

    Args:
        cfg: mapping with a ``name`` key; the other keys are constructor arguments.
        registry: a :class:`Registry`.
        default_args: extra keyword arguments (``cfg`` wins on conflicts).
    Raises:
        TypeError: ``cfg`` is not a mapping or has no ``name``; an argument the class does not take
            (the message names the argument and the class).
        KeyError: unknown name.
    """
    if not isinstance(cfg, dict) or 'name' not in cfg:
        raise TypeError(f"a {registry.name} config needs a 'name' key, got {cfg!r}")
    args = dict(cfg)
    obj_cls = registry.get(args.pop('name'))
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    params = inspect.signature(obj_cls).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in args if k not in params]
        if unknown:
            raise TypeError(f"{obj_cls.__name__} has no option {', '.join(map(repr, unknown))}; "
                            f"it takes {', '.join(params)}")
    return obj_cls(**args)



def build_by_name(name, registry, **kwargs):
    """``registry[name](**kwargs)``, the ``build_detector('sfd', weights=...)`` style.

    ``name`` may also be a config mapping (``{'name': 'blazeface', 'tiles': False}``), whose
    options ``kwargs`` override. Raises as :func:`build_from_config`.
    """
    cfg = dict(name) if isinstance(name, dict) else {'name': name}
    cfg.update(kwargs)
    return build_from_config(cfg, registry)

MODELS = Registry('MODELS')
GENERATORS = Registry('GENERATORS')
DISCRIMINATORS = Registry('DISCRIMINATORS')
DATASETS = Registry('DATASETS')
DETECTORS = Registry('DETECTORS')
LANDMARKERS = Registry('LANDMARKERS')
ENHANCERS = Registry('ENHANCERS')
