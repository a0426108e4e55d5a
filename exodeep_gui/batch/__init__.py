"""Run one function per movie over many movies: in this process, on a local Dask cluster, on SLURM
(dask-jobqueue) or on an existing Dask scheduler, with resume, retry of lost workers and a report.

A command (``exodeep detect`` first, ``exodeep analyze`` next) describes its per-movie work as a
:class:`~exodeep_gui.batch.tasks.MovieCommand`: which files a finished movie has, what makes two
runs the same (its fingerprint, plus a movie's own part: ``task_fingerprint``), and
``run(task)``, called once per movie on a worker. Tasks carry
only the movie path and the command's frozen options; anything heavy (a model) is loaded by the
worker process once and kept there (see :func:`exodeep_gui.ml.detect.cached_detector`).

- :mod:`.tasks`: MovieTask / MovieResult, the markers of finished movies, :func:`run_task` (the
  function a worker runs); stdlib + io only.
- :mod:`.runner`: plan (skip finished movies), run in sequence or on a Dask client, the report CSV.
- :mod:`.cluster`: which cluster (local, slurm, an address), the worker set-up plugin (threads, GPU
  per worker). It imports ``distributed``: the command line imports it only when a cluster is asked for.
- :mod:`.slurm`: the SLURM options and their file, the check of the job before anything is queued
  (``sbatch --test-only``) and the watch of the jobs while the run waits (a run whose workers cannot
  start ends with one line).
- :mod:`.detect`: detection as a :class:`MovieCommand`.
- :mod:`.analyze`: analysis as a :class:`MovieCommand`: each movie's analysis is kept in a file of
  the output folder, and ``exodeep analyze`` combines the finished ones into its tables and report.
"""

from exodeep_gui.batch.tasks import MovieCommand, MovieResult, MovieTask, movie_tasks, run_task

__all__ = ["MovieCommand", "MovieResult", "MovieTask", "movie_tasks", "run_task"]
