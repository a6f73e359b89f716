"""Making an edge image viewable: which magnitude is white, and a gamma.

The reference formula scales the magnitude so that the single strongest edge is white
(``magnitude * 255 / max``). On a photograph a few strong edges then leave the rest very
dark (the bundled sample: mean 13 of 255). Two standard remedies, applied after the
magnitude has been computed and scaled by its maximum:

- a percentile as the white point (``p99``: the 99th percentile becomes white and the
  top 1 % clip), the robust contrast stretch of scikit-image's
  ``exposure.rescale_intensity(image, in_range=(0, np.percentile(image, 99)))``;
- a gamma, ``out = top * (v / top) ** (1 / gamma)``, as ImageMagick's ``-gamma``
  (values above 1 brighten the dark range).

Both are linear in the input up to the clip, so applying them to the max-scaled image
gives the same result as applying them to the raw magnitude.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnncli.core.errors import UserError

if TYPE_CHECKING:
    import numpy as np

MAX = "max"
NONE = "none"
PERCENTILE = "percentile"
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Tone:
    """Where white is (``max``, a percentile, or ``none``: raw values) and a gamma."""

    white: str = MAX
    percentile: float | None = None
    gamma: float = 1.0

    @property
    def normalize(self) -> bool:
        """Whether the edge filter scales by the maximum first (all but ``none``)."""
        return self.white != NONE

    @property
    def is_reference(self) -> bool:
        """The reference formula unchanged: nothing to do after the edge filter."""
        return self.white in (MAX, NONE) and self.gamma == 1.0


def parse_tone(normalize: str, gamma: float = 1.0) -> Tone:
    """``--normalize max | none | pNN`` (0 < NN <= 100) and ``--gamma G`` (G > 0)."""
    if not (math.isfinite(gamma) and gamma > 0):
        raise UserError(f"--gamma must be a positive number, got {gamma}")
    text = normalize.strip().lower()
    if text in (MAX, NONE):
        return Tone(text, None, gamma)
    match = _PERCENTILE.match(text)
    if match and 0 < float(match.group(1)) <= 100:
        return Tone(PERCENTILE, float(match.group(1)), gamma)
    raise UserError(
        f"--normalize {normalize!r}: use max, none, or a percentile such as p99",
        hint="p99 makes the 99th-percentile edge white, for a brighter picture",
    )


def apply_tone(values: np.ndarray, tone: Tone, top: float) -> np.ndarray:
    """``values`` (an edge magnitude on ``[0, top]``) with ``tone``'s white point and gamma.

    Returns a float32 array on ``[0, top]``. A percentile of zero (a mostly flat image)
    leaves the maximum as the white point rather than dividing by zero.
    """
    import numpy as np

    out: np.ndarray = np.array(values, dtype=np.float32)  # a copy: the input stays as it was
    if tone.white == PERCENTILE and tone.percentile is not None and out.size:
        white = float(np.percentile(out, tone.percentile))
        if white > 0:
            out *= np.float32(top / white)
            np.clip(out, 0, top, out=out)
    if tone.gamma != 1.0:
        out /= np.float32(top)
        np.power(out, np.float32(1.0 / tone.gamma), out=out)
        out *= np.float32(top)
    return out
