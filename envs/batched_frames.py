"""Observation frames of many worlds at once, from the rows the batched simulator copies.

``PolytaskEnv._frame`` reads one world's ``MjData``; here the same 18 numbers
come for a whole batch from its ``sensordata`` rows (the site poses, from the
frame sensors ``PolytaskEnv.compile_model`` adds) and ``qpos`` rows (the
gripper opening), with the same bits: positions are copied, and quaternions
come from the site matrices through :func:`mat_to_quat`, which repeats
MuJoCo's ``mju_mat2Quat`` arithmetic.
"""

from __future__ import annotations

import mujoco
import numpy as np

from envs import layout
from envs.base import FINGERS_OPEN, model_indices
from envs.layout import FRAME_DIM, GRIPPER, POSITION_COLUMNS, QUAT_COLUMNS


def _quat_branch(m: np.ndarray, largest: int) -> np.ndarray:
    """``mju_mat2Quat``'s arithmetic for rows whose quaternion component ``largest`` is the largest."""
    m0, m1, m2, m3, m4, m5, m6, m7, m8 = m.T
    quat = np.empty((len(m), 4))
    if largest == 0:
        s = 0.5 * np.sqrt(1 + m0 + m4 + m8)
        pairs = ((1, m7 - m5), (2, m2 - m6), (3, m3 - m1))
    elif largest == 1:
        s = 0.5 * np.sqrt(1 + m0 - m4 - m8)
        pairs = ((0, m7 - m5), (2, m1 + m3), (3, m2 + m6))
    elif largest == 2:
        s = 0.5 * np.sqrt(1 - m0 + m4 - m8)
        pairs = ((0, m2 - m6), (1, m1 + m3), (3, m5 + m7))
    else:
        s = 0.5 * np.sqrt(1 - m0 - m4 + m8)
        pairs = ((0, m3 - m1), (1, m2 + m6), (2, m5 + m7))
    quat[:, largest] = s
    for column, difference in pairs:
        quat[:, column] = 0.25 * difference / s
    return quat


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """``mju_mat2Quat`` over a batch of row-major 3x3 matrices, shape (n, 9) -> (n, 4).

    Written to give the same bits as MuJoCo's (the single env calls it): the
    same branch on the largest component, the same operation order and the
    same final normalization.
    """
    m = np.asarray(mat, dtype=np.float64).reshape(-1, 9)
    m0, m4, m8 = m[:, 0], m[:, 4], m[:, 8]
    first = m0 + m4 + m8 > 0
    if first.all():  # the common case: one branch, no masks
        quat = _quat_branch(m, 0)
    else:
        second = ~first & (m0 > m4) & (m0 > m8)
        third = ~first & ~second & (m4 > m8)
        quat = np.empty((len(m), 4))
        for largest, rows in enumerate((first, second, third, ~(first | second | third))):
            if rows.any():
                quat[rows] = _quat_branch(m[rows], largest)
    q0, q1, q2, q3 = quat.T
    norm = np.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    tiny = norm < mujoco.mjMINVAL
    rescale = ~tiny & (np.abs(norm - 1) > mujoco.mjMINVAL)
    if rescale.all():
        quat *= (1 / norm)[:, None]
    elif rescale.any():
        quat[rescale] *= (1 / norm[rescale])[:, None]
    if tiny.any():
        quat[tiny] = (1.0, 0.0, 0.0, 0.0)
    return quat


#: sensor rows end in a zero (read for absent objects' positions) and an identity xmat
SPARE_COLUMNS = 10


class FrameLayout:
    """One task's gather indices: its frame in ``sensordata``/``qpos`` rows, its controls in ``ctrl``.

    Built from the task's compiled model and its ``object_sites``.
    ``sensor_width`` is the width of the batch's sensor rows; their last
    ``SPARE_COLUMNS`` hold a zero and an identity matrix, which stand in for
    an absent second (or first) object so every world gathers the same shape.
    """

    def __init__(self, model: mujoco.MjModel, object_sites: tuple[str, ...], sensor_width: int):

        def adr(name: str) -> int:
            return int(model.sensor_adr[model.sensor(name).id])

        zero, identity = sensor_width - SPARE_COLUMNS, sensor_width - SPARE_COLUMNS + 1
        self.positions = [adr("frame/tcp") + j for j in range(3)]
        self.matrices: list[int] = []
        self.present = np.ones(FRAME_DIM)
        for k in range(layout.MAX_OBJECTS):
            if k < len(object_sites):
                axes = [adr(f"frame/object{k}_{axis}axis") for axis in "xyz"]  # the columns of xmat
                self.positions += [adr(f"frame/object{k}_pos") + j for j in range(3)]
                self.matrices += [axes[column] + row for row in range(3) for column in range(3)]
            else:
                self.positions += [zero] * 3
                self.matrices += list(range(identity, identity + 9))
                self.present[layout.object_columns(k)] = 0.0
        ids = model_indices(model, object_sites)
        self.fingers, self.hand_ctrl, self.finger_ctrl = ids["finger_qpos"], ids["hand_ctrl"], ids["finger_ctrl"]


def flat_index(index: np.ndarray, width: int) -> np.ndarray:
    """Per-row column indices ``(n, k)`` -> indices into the raveled ``(n, width)`` rows.

    Gathering with these is ``np.take_along_axis`` without its per-call index building.
    """
    return index + width * np.arange(len(index))[:, None]


def frames(sensors: np.ndarray, qpos: np.ndarray, flat: dict[str, np.ndarray]) -> np.ndarray:
    """The 18-number frames (``PolytaskEnv._frame``) of every world, from its rows.

    ``flat`` holds :func:`flat_index` gathers of ``FrameLayout``'s
    ``positions``, ``matrices`` (into ``sensors``) and ``fingers`` (into
    ``qpos``), and the per-world ``present`` mask.
    """
    n = len(sensors)
    frame = np.empty((n, FRAME_DIM))
    frame[:, POSITION_COLUMNS] = sensors.ravel()[flat["positions"]]
    fingers = qpos.ravel()[flat["fingers"]]
    frame[:, GRIPPER] = np.clip((fingers[:, 0] + fingers[:, 1]) / FINGERS_OPEN, 0.0, 1.0)
    matrices = sensors.ravel()[flat["matrices"]].reshape(2 * n, 9)
    frame[:, QUAT_COLUMNS] = mat_to_quat(matrices).reshape(n, 8)
    frame *= flat["present"]
    return frame
