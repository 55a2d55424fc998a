"""Gymnasium environments: forelimb reaching driven by muscles or through the brain.

Registered on ``import cosim`` as ``cosim/ForelimbReach-v0`` (`reach.ForelimbReachEnv`) and
``cosim/BrainForelimbReach-v0`` (`brain_reach.BrainForelimbReachEnv`); the modules are
imported only when an env is made.
"""

__all__ = ["ENV_IDS"]

ENV_IDS = {
    "cosim/ForelimbReach-v0": "cosim.envs.reach:ForelimbReachEnv",
    "cosim/BrainForelimbReach-v0": "cosim.envs.brain_reach:BrainForelimbReachEnv",
}
