"""What a person looks at after a run: the HTML report and the summary figure.

``write_report(RUN.h5, DIR)`` writes DIR/index.html with PNG figures, a GIF of the voxel
rate maps and the limb video (MP4) beside it; ``summary_figure`` is the one-PNG overview
``cosim run`` draws.  Modules: data (read the file), figures, animation, video, html, compose.
"""
from cosim.report.compose import write_report
from cosim.report.summary import summary_figure

__all__ = ["write_report", "summary_figure"]
