"""The training example: a short CEM run beats a random policy and its curve rises."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "train_reach.py"


@pytest.mark.slow
def test_quick_cem_training_improves_over_random(capsys):
    spec = importlib.util.spec_from_file_location("train_reach", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(["--quick"])
    curve = result["curve"]
    assert result["final_return"] > result["random_return"] + 5.0
    assert max(curve[-3:]) > curve[0] + 5.0  # the learning curve rises from the start
    assert "generation" in capsys.readouterr().out
