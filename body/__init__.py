"""MuJoCo body rank: model loading, muscles, proprioception and (on request) rendering.

Never imports brain, bridge, cosim or gymnasium. Rendering lives in `body.render`, imported
only by callers that want frames.
"""

from body.body import Body, BodyState
from body.model import load_model
from body.params import AfferentParams, BodyParams
from body.proprioception import AFFERENT_TYPES, MuscleSense, afferent_rates_Hz

__all__ = [
    "AFFERENT_TYPES",
    "AfferentParams",
    "Body",
    "BodyParams",
    "BodyState",
    "MuscleSense",
    "afferent_rates_Hz",
    "load_model",
]
