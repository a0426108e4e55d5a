"""Detection as a batch command: one movie in, its result files out (``exodeep detect``, in this
process or on a Dask worker). The model is loaded once per process (:func:`cached_detector`)
and never travels with a task: a task holds the movie path and :class:`DetectJob`."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from exodeep_gui.batch.tasks import MovieCommand, MovieTask
from exodeep_gui.core.detection import DetectOptions
from exodeep_gui.io.results import RESULT_FORMATS, result_paths


@dataclass(frozen=True)
class DetectJob:
    """Everything a worker needs besides the movie path."""

    options: DetectOptions
    channel: int = 0
    formats: Tuple[str, ...] = RESULT_FORMATS


class DetectCommand(MovieCommand):
    name = "detect"

    def outputs(self, task: MovieTask) -> List[Path]:
        return list(result_paths(task.out_dir, task.name, task.params.formats).values())

    def fingerprint(self, params: DetectJob) -> Dict[str, Any]:
        """Options, channel, formats, the model's weights file (path, size, time) and ExoDeep's
        version: a movie finished with all of these the same is not run again."""
        from exodeep_gui import __version__
        from exodeep_gui.ml.models import resolve_model     # no Keras: a model folder or .h5 path

        info = resolve_model(params.options.model)
        st = info.weights.stat()
        return {"exodeep": __version__, "options": asdict(params.options), "channel": params.channel,
                "formats": [k for k in RESULT_FORMATS if k in params.formats],
                "weights": {"path": str(info.weights), "size": st.st_size, "mtime_ns": st.st_mtime_ns}}

    def run(self, task: MovieTask, progress: Optional[Callable] = None) -> Dict[str, Any]:
        from exodeep_gui.core.progress import run_to_end
        from exodeep_gui.io.movie_io import open_movie
        from exodeep_gui.io.results import write_results
        from exodeep_gui.ml.detect import TIMINGS, cached_detector

        job: DetectJob = task.params
        t0 = time.perf_counter()
        movie = open_movie(task.movie, channel=job.channel)
        TIMINGS["open"] = time.perf_counter() - t0
        detector = cached_detector(job.options.model)       # once per worker process
        detection = run_to_end(detector.detect(movie, job.options), progress)
        t0 = time.perf_counter()
        events = detection.events()
        written = write_results(task.out_dir, task.name, events, movie.pixel_size_um, movie.frame_interval_s,
                                job.formats, overwrite=task.overwrite)
        TIMINGS["write"] = time.perf_counter() - t0
        notices = (getattr(movie, "metadata", None) or {}).get("notices", [])
        return {"events": len(events), "frames": movie.n_frames, "outputs": [str(p) for p in written],
                "notes": [f"{Path(task.movie).name}: {n}" for n in notices]}


DETECT = DetectCommand()
