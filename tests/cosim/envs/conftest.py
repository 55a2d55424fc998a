"""Fixtures for the env tests: a small muscle arm written here."""

from pathlib import Path

import pytest
from reach_helpers import TWO_LINK_ARM_XML


@pytest.fixture(scope="session")
def arm_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("arm") / "two_link_arm.xml"
    path.write_text(TWO_LINK_ARM_XML)
    return path
