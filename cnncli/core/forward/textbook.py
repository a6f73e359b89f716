"""Forward rules for the built-in textbook models (``cnncli summary --list``).

Their forward is written out in ``tests/golden/make_summary.py``, which made their reprs.
"""

from __future__ import annotations

from cnncli.core.forward.base import Flow, Registry, Run, flatten, rule
from cnncli.core.model_text import Module

RULES = Registry()


@RULES.add("MyConvNet")
@rule(
    "MyConvNet.forward: classifier(feature(x)) (its Flatten is a printed layer)",
    "feature classifier",
)
def my_conv_net(b: Module, x: Flow, run: Run) -> Flow:
    return run("classifier", run("feature", x))


@RULES.add("LeNet5")
@rule("LeNet5.forward: classifier(torch.flatten(features(x), 1))", "features classifier")
def lenet5(b: Module, x: Flow, run: Run) -> Flow:
    return run("classifier", flatten(run("features", x), 1))
