"""Render one picture per registered task into docs/tasks/<task>.png.

Each picture is the "corner" camera a few expert steps into a seeded episode,
so the task's objects and the goal marker are visible. Run:

    ./run python docs/make_pictures.py
    ./run python docs/make_pictures.py --tasks push-back reach-wall   # only these
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio

import envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tasks")
    parser.add_argument("--steps", type=int, default=40, help="expert steps before the picture")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--tasks", nargs="+", help="only these tasks (default: every registered task)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, cls in envs.TASKS.items():
        if args.tasks and name not in args.tasks:
            continue
        env = cls(render_mode="rgb_array", camera="corner", width=args.size, height=args.size)
        obs, _ = env.reset(seed=0)
        for _ in range(args.steps):
            obs, *_ = env.step(env.expert(obs))
        iio.imwrite(args.out / f"{name}.png", env.render())
        env.close()
        print(f"wrote {args.out / f'{name}.png'}")


if __name__ == "__main__":
    main()
