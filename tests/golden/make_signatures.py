"""Record torch.nn's constructor signatures for every layer cnncli knows (issue 18).

    /path/to/torch-venv/bin/python tests/golden/make_signatures.py

Writes tests/golden/signatures.json: for each layer name in cnncli.core.layers.SIGNATURES,
the parameters of ``torch.nn.<name>.__init__`` in order, with their defaults (the string
"<required>" for none) and whether they are keyword-only, leaving out ``device`` and
``dtype`` (factory arguments that change no shape or count), and under ``factory`` the
layers that take those two. tests/core/test_signatures.py checks SIGNATURES against it.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cnncli.core.layers import SIGNATURES  # noqa: E402  (cnncli needs no torch)

FACTORY = {"device", "dtype"}


def default(value: object) -> object:
    if value is inspect.Parameter.empty:
        return "<required>"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return repr(value)


def recurrent(name: str) -> list[list[object]]:
    """RNN/LSTM/GRU take ``*args``: their parameters are RNNBase's without ``mode``; RNN adds
    ``nonlinearity`` after ``num_layers``, and only LSTM accepts ``proj_size``."""
    params = signature(torch.nn.RNNBase)[1:]
    if name != "LSTM":
        params = [p for p in params if p[0] != "proj_size"]
    if name == "RNN":
        params.insert(3, ["nonlinearity", "tanh", "positional"])
    return params


def signature(cls: type) -> list[list[object]]:
    parameters = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    return [
        [p.name, default(p.default), "keyword" if p.kind is p.KEYWORD_ONLY else "positional"]
        for p in parameters
        if p.name != "self"
        and p.name not in FACTORY
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def main() -> None:
    layers = {}
    for name in sorted(SIGNATURES):
        cls = getattr(torch.nn, name)
        layers[name] = recurrent(name) if name in ("RNN", "LSTM", "GRU") else signature(cls)
    # The layers whose constructor takes device= and dtype= (keyword-only factory arguments).
    factory = sorted(
        name
        for name in SIGNATURES
        if FACTORY <= set(inspect.signature(getattr(torch.nn, name).__init__).parameters)
        or (name in ("RNN", "LSTM", "GRU") and FACTORY <= set(inspect.signature(torch.nn.RNNBase.__init__).parameters))
    )
    out = {"torch": torch.__version__, "layers": layers, "factory": factory}
    (ROOT / "tests" / "golden" / "signatures.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
