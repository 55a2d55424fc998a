"""Fixtures for the body tests: the shipped forelimb and a tiny generic muscle arm."""

from pathlib import Path

import pytest

from body import Body, BodyParams

FORELIMB_XML = Path(__file__).resolve().parents[2] / "scenes" / "forelimb.xml"

# One hinge, two muscles with names unlike the forelimb's, and a motor that the body must ignore.
TINY_ARM_XML = """
<mujoco model="tiny_arm">
  <option timestep="0.0005" integrator="implicitfast"/>
  <worldbody>
    <site name="top_front" pos="0.01 0 0.02"/>
    <site name="top_back" pos="-0.01 0 0.02"/>
    <body name="link">
      <joint name="hinge" type="hinge" axis="0 -1 0" range="-60 60" damping="0.001"
             armature="1e-6" limited="true"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.05" size="0.003" mass="0.01" contype="0"
            conaffinity="0"/>
      <site name="low_front" pos="0.004 0 -0.03"/>
      <site name="low_back" pos="-0.004 0 -0.03"/>
      <site name="tip" pos="0 0 -0.05"/>
    </body>
  </worldbody>
  <tendon>
    <spatial name="t_front"><site site="top_front"/><site site="low_front"/></spatial>
    <spatial name="t_back"><site site="top_back"/><site site="low_back"/></spatial>
  </tendon>
  <actuator>
    <muscle name="flexor_a" tendon="t_front" force="2"/>
    <motor name="torque_motor" joint="hinge" gear="1"/>
    <muscle name="extensor_b" tendon="t_back" force="-1" scale="50"/>
  </actuator>
</mujoco>
"""


@pytest.fixture
def forelimb() -> Body:
    return Body(BodyParams(mjcf_path=str(FORELIMB_XML)))


@pytest.fixture
def tiny_arm_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_arm.xml"
    path.write_text(TINY_ARM_XML)
    return path


@pytest.fixture
def forelimb_path() -> Path:
    return FORELIMB_XML
