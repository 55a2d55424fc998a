"""Orchestration: scene files, embedded and MPI runs, CLI, gymnasium environments.

Importing the package registers the gymnasium environments (``cosim/ForelimbReach-v0``,
``cosim/BrainForelimbReach-v0``) by entry-point strings, so nothing heavy is imported until
an environment is made.
"""


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # gymnasium is a dependency, but the brain/body CLI runs without it
        return
    from cosim.envs import ENV_IDS

    for env_id, entry_point in ENV_IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point)


_register_envs()
