"""What a person looks at after a run: the HTML report and the summary figure.

``write_report(RUN.h5, DIR)`` writes DIR/index.html with PNG figures, a GIF of the voxel
rate maps and the limb video (MP4) beside it; ``summary_figure`` is the one-PNG overview
``cosim run`` draws; ``write_experiment_report(DIR)`` the page of a ``cosim experiment``
folder (metrics against the seed's claims, figures, a report per run).  Modules: data (read
the file), figures, animation, video, html, compose, experiment.
"""
from cosim.report.compose import write_report
from cosim.report.experiment import is_experiment_folder, write_experiment_report
from cosim.report.summary import summary_figure

__all__ = ["write_report", "write_experiment_report", "is_experiment_folder", "summary_figure"]
