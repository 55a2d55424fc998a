"""Constants shared by the env tests (imported by name: tests/ has no packages)."""

import cosim  # noqa: F401  (registers the envs)

BODY_ID = "cosim/ForelimbReach-v0"
BRAIN_ID = "cosim/BrainForelimbReach-v0"
TINY_SCENE = "brain_reach_tiny.toml"

# A planar two-link arm (hinges at shoulder and elbow) with four muscles whose names are unlike
# the forelimb's, a 2 ms timestep, no "paw" and no camera: the generic path of ForelimbReach.
TWO_LINK_ARM_XML = """
<mujoco model="two_link_arm">
  <compiler angle="degree"/>
  <option timestep="0.002" integrator="implicitfast" gravity="0 0 0"/>
  <default>
    <geom contype="0" conaffinity="0"/>
    <joint type="hinge" axis="0 -1 0" limited="true" damping="0.02" stiffness="0.05"
           armature="1e-4"/>
    <muscle ctrllimited="true" ctrlrange="0 1"/>
  </default>
  <worldbody>
    <site name="origin_front" pos="0.03 0 0.02"/>
    <site name="origin_back" pos="-0.03 0 0.02"/>
    <body name="upper">
      <joint name="shoulder" range="-80 80"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.02" mass="0.5"/>
      <site name="upper_front" pos="0.02 0 -0.1"/>
      <site name="upper_back" pos="-0.02 0 -0.1"/>
      <site name="elbow_front" pos="0.02 0 -0.25"/>
      <site name="elbow_back" pos="-0.02 0 -0.25"/>
      <body name="lower" pos="0 0 -0.3">
        <joint name="elbow" range="0 120"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.015" mass="0.3"/>
        <site name="lower_front" pos="0.02 0 -0.06"/>
        <site name="lower_back" pos="-0.02 0 -0.06"/>
        <body name="hand" pos="0 0 -0.25">
          <geom type="sphere" size="0.02" mass="0.05"/>
          <site name="fingertip" pos="0 0 -0.03"/>
        </body>
      </body>
    </body>
  </worldbody>
  <tendon>
    <spatial name="t_sf"><site site="origin_front"/><site site="upper_front"/></spatial>
    <spatial name="t_se"><site site="origin_back"/><site site="upper_back"/></spatial>
    <spatial name="t_ef"><site site="elbow_front"/><site site="lower_front"/></spatial>
    <spatial name="t_ee"><site site="elbow_back"/><site site="lower_back"/></spatial>
  </tendon>
  <actuator>
    <muscle name="anterior" tendon="t_sf" force="60"/>
    <muscle name="posterior" tendon="t_se" force="60"/>
    <muscle name="flexor" tendon="t_ef" force="40"/>
    <muscle name="extensor" tendon="t_ee" force="40"/>
  </actuator>
</mujoco>
"""

