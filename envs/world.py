"""Compose the MuJoCo world with ``mujoco.MjSpec``.

Every piece of the world is a plain MJCF file under ``envs/assets``: the scene
(table, lights, cameras, the invisible box that keeps loose objects on the
table), the gripper, and one file per reusable object (``assets/objects``).
A task builds its world by calling :func:`base_spec` and then :func:`attach`
for each object it needs, at a pose and under a name prefix of its choice.
"""

from __future__ import annotations

import functools
from pathlib import Path

import mujoco
import numpy as np

ASSETS = Path(__file__).parent / "assets"
OBJECTS = ASSETS / "objects"

def available_pieces() -> list[str]:
    """Names of the object pieces shipped with the suite."""
    return sorted(p.stem for p in OBJECTS.glob("*.xml"))


@functools.lru_cache(maxsize=None)
def _piece_xml(name: str) -> str:
    path = OBJECTS / f"{name}.xml"
    if not path.exists():
        raise ValueError(f"unknown object piece {name!r}; available: {', '.join(available_pieces())}")
    return path.read_text()


def load_piece(name: str) -> mujoco.MjSpec:
    """A fresh spec of one object piece (``assets/objects/<name>.xml``)."""
    return mujoco.MjSpec.from_string(_piece_xml(name))


def base_spec() -> mujoco.MjSpec:
    """The scene with the gripper attached: the start of every task's world."""
    spec = mujoco.MjSpec.from_file(str(ASSETS / "scene.xml"))
    gripper = mujoco.MjSpec.from_file(str(ASSETS / "gripper.xml"))
    frame = spec.worldbody.add_frame()
    spec.attach(gripper, prefix="gripper/", frame=frame)
    goal = spec.worldbody.add_site()
    goal.name = "goal"
    goal.size = np.array([0.015, 0.0, 0.0])
    goal.rgba = np.array([0.1, 0.8, 0.2, 0.5])
    goal.group = 2
    return spec


def attach(
    spec: mujoco.MjSpec,
    piece: str | mujoco.MjSpec,
    prefix: str,
    pos=(0.0, 0.0, 0.0),
    quat=(1.0, 0.0, 0.0, 0.0),
) -> mujoco.MjsFrame:
    """Attach an object piece to ``spec``'s world at ``pos``/``quat``.

    Every name inside the piece gets ``prefix`` (e.g. ``"drawer/"``), so one
    world may hold the same piece twice.
    """
    child = load_piece(piece) if isinstance(piece, str) else piece
    frame = spec.worldbody.add_frame()
    frame.pos = np.asarray(pos, dtype=np.float64)
    frame.quat = np.asarray(quat, dtype=np.float64)
    return spec.attach(child, prefix=prefix, frame=frame)


def add_frame_sensors(spec: mujoco.MjSpec, object_sites: tuple[str, ...]) -> None:
    """Sensors that read the site poses of one observation frame (``PolytaskEnv._frame``).

    They change no dynamics; the single env reads ``MjData`` directly, while
    the batched simulator (``envs.batched``) copies one ``sensordata`` row
    per world. Position sensors are evaluated at the start of each substep,
    which is when ``_frame`` reads ``site_xpos`` after ``mj_step`` too (the
    gripper opening comes from ``qpos``, which is current, so no sensor).
    Object orientations are read as the three axes of ``site_xmat`` rather
    than a ``framequat`` sensor, which builds its quaternion another way and
    differs from ``_frame``'s ``mju_mat2Quat`` in the last bit.
    """
    sensors = [("frame/tcp", mujoco.mjtSensor.mjSENS_FRAMEPOS, mujoco.mjtObj.mjOBJ_SITE, "gripper/tcp")]
    for k, site in enumerate(object_sites[:2]):
        sensors.append((f"frame/object{k}_pos", mujoco.mjtSensor.mjSENS_FRAMEPOS, mujoco.mjtObj.mjOBJ_SITE, site))
        for axis in "xyz":
            sensor_type = getattr(mujoco.mjtSensor, f"mjSENS_FRAME{axis.upper()}AXIS")
            sensors.append((f"frame/object{k}_{axis}axis", sensor_type, mujoco.mjtObj.mjOBJ_SITE, site))
    for name, sensor_type, object_type, object_name in sensors:
        sensor = spec.add_sensor()
        sensor.name, sensor.type, sensor.objtype, sensor.objname = name, sensor_type, object_type, object_name
