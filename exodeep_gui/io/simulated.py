"""Write simulated movies with their ground truth: ``<name>.tif`` (ImageJ TIFF, calibrated),
``<name>.csv`` (ImageJ Results: X, Y, Slice 1-based), ``<name>_mask.tif`` (cell mask) and
``simulation.json`` (the parameters and seeds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np

from exodeep_gui.core.simulate import SimulatedMovie, SimulationParams, simulate_movie
from exodeep_gui.io.atomic import atomic_path, check_writable_folder, write_text_atomic
from exodeep_gui.io.results import results_csv_text


def write_imagej_tiff(path, movie: np.ndarray, pixel_size_um=None, frame_interval_s=None,
                      overwrite: bool = False) -> Path:
    import tifffile

    meta = {"axes": "TYX"}
    kwargs = {}
    if frame_interval_s:
        meta["finterval"] = frame_interval_s
    if pixel_size_um:
        meta["unit"] = "micron"
        kwargs["resolution"] = (1.0 / pixel_size_um, 1.0 / pixel_size_um)
    with atomic_path(path, overwrite, suffix=".part.tif") as tmp:
        tifffile.imwrite(tmp, movie, imagej=True, metadata=meta, **kwargs)
    return Path(path)


def write_simulated(folder, name: str, sim: SimulatedMovie, overwrite: bool = False) -> Path:
    folder = Path(folder)
    p = sim.params
    path = write_imagej_tiff(folder / f"{name}.tif", sim.movie, p.pixel_size_um, p.frame_interval_s, overwrite)
    write_text_atomic(folder / f"{name}.csv", results_csv_text(sim.truth), overwrite)
    with atomic_path(folder / f"{name}_mask.tif", overwrite, suffix=".part.tif") as tmp:
        import tifffile

        tifffile.imwrite(tmp, sim.cell_mask.astype(np.uint8) * 255)
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
