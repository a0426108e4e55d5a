"""Write simulated movies with their ground truth: ``<name>.tif`` (ImageJ TIFF, calibrated),
``<name>.csv`` (ImageJ Results: X, Y, Slice 1-based), ``<name>_mask.tif`` (cell mask) and
``simulation.json`` (the parameters and seeds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np

from exodeep_gui.core.simulate import SimulatedMovie, SimulationParams, simulate_movie
from exodeep_gui.io.atomic import check_writable_folder, write_text_atomic
from exodeep_gui.io.movie_io import write_imagej_tiff
from exodeep_gui.io.results import results_csv_text


def write_simulated(folder, name: str, sim: SimulatedMovie, overwrite: bool = False) -> Path:
    folder = Path(folder)
    p = sim.params
    path = write_imagej_tiff(folder / f"{name}.tif", sim.movie, p.pixel_size_um, p.frame_interval_s, overwrite)
    write_text_atomic(folder / f"{name}.csv", results_csv_text(sim.truth), overwrite)
    write_imagej_tiff(folder / f"{name}_mask.tif", sim.cell_mask.astype(np.uint8) * 255,
                      p.pixel_size_um, overwrite=overwrite)
    return path


def write_simulated_set(folder, n: int, params: SimulationParams, seed: int = 0,
                        overwrite: bool = False) -> List[Path]:
    folder = Path(folder)
    check_writable_folder(folder)
    paths = []
    for i in range(n):
        sim = simulate_movie(params, seed=seed + i)
        paths.append(write_simulated(folder, f"sim_{seed + i:03d}", sim, overwrite))
    write_text_atomic(folder / "simulation.json",
                      json.dumps({"params": params.to_dict(), "seeds": [seed + i for i in range(n)]}, indent=2),
                      overwrite=True)
    return paths


def demo_movie(folder) -> Path:
    """The demo movie: a small simulated movie with its ground truth CSV, written once into
    ``folder`` (the user data folder's ``demo``) and reused."""
    path = Path(folder) / "demo_movie.tif"
    if not path.is_file():
        Path(folder).mkdir(parents=True, exist_ok=True)
        sim = simulate_movie(SimulationParams(frames=150, height=160, width=160, events=20, docked=30,
                                              visiting=10), seed=7)
        write_simulated(folder, "demo_movie", sim, overwrite=True)
    return path
