"""Data assimilation: an ensemble Kalman filter that fits the spiking model to recordings.

Modules: config (the scene's ``[assimilation]`` section), observe (observation operators
and the observation file), enkf (the update, pure numpy), members (one member over one
window), driver (embedded and MPI orchestration), results (the output file), program
(setup, the embedded run and the MPI rank program ``python -m cosim.assimilation``).
"""
from .config import AssimilationParams, Parameter, load_assimilation
from .driver import assimilate, plan
from .enkf import enkf_update
from .observe import observe_run, read_observations, write_observations
from .results import is_assimilation_file, read_results, write_results

__all__ = ["AssimilationParams", "Parameter", "load_assimilation", "assimilate", "plan",
           "enkf_update", "observe_run", "read_observations", "write_observations",
           "is_assimilation_file", "read_results", "write_results"]
