"""The built Linux archive (slow: building it takes minutes). Run by ``make test-installer``
(EXODEEP_TEST_INSTALLER=1), not by every CI run. It builds with installer/build.sh, or tests an archive
already built: EXODEEP_INSTALLER_ARCHIVE=build/debian11/ExoDeep-<version>-linux-x86_64.tar.xz (the
Debian 11 build; EXODEEP_INSTALLER_GLIBC_MAX=2.31 then checks its glibc), or, with
EXODEEP_REUSE_BUNDLE=1, the archive of an earlier build.sh."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from exodeep_gui import __version__

ROOT = Path(__file__).resolve().parent.parent
NAME = f"ExoDeep-{__version__}-linux-x86_64"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("EXODEEP_TEST_INSTALLER") != "1",
                                 reason="builds the installer; run with make test-installer"),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux archive")]


@pytest.fixture(scope="module")
def archive() -> Path:
    given = os.environ.get("EXODEEP_INSTALLER_ARCHIVE")
    if given:
        return Path(given).resolve()
    built = ROOT / "build" / "installer" / f"{NAME}.tar.xz"
    if os.environ.get("EXODEEP_REUSE_BUNDLE") != "1" or not built.exists():
        subprocess.run(["bash", str(ROOT / "installer" / "build.sh"), sys.executable], check=True, timeout=3600)
    return built


@pytest.fixture(scope="module")
def app_dir(archive, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["tar", "-C", str(where), "-xJf", str(archive)], check=True, timeout=900)
    return where / NAME


def frozen_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXODEEP_", "PYTHON"))}
    env.update(EXODEEP_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def weights_bundled(app_dir: Path) -> bool:
    return (app_dir / "_internal" / "resources" / "models" / "exodeepfinder_net_weights_FINAL.h5").is_file()


def test_archive_unpacks_to_one_versioned_folder(archive):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        members = {m.name: m for m in tar.getmembers()}
    assert {n.split("/", 1)[0] for n in names} == {NAME}
    for required in ("ExoDeep", "install.sh", "uninstall.sh", "LICENSE", "README.txt", "licenses/THIRD-PARTY.txt",
                     "_internal/resources/icons/exodeep-256.png", "_internal/resources/icons/exodeep.svg"):
        assert f"{NAME}/{required}" in names, required
    for executable in ("ExoDeep", "install.sh", "uninstall.sh"):
        assert members[f"{NAME}/{executable}"].mode & 0o111, executable
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())


def test_licences_of_the_bundle(app_dir):
    assert (app_dir / "LICENSE").read_text().startswith("                    GNU GENERAL PUBLIC LICENSE")
    licenses = app_dir / "licenses"
    index = (licenses / "THIRD-PARTY.txt").read_text()
    for name in ("PySide6_Essentials", "tensorflow", "numpy", "keras", "Python 3.11", "pyinstaller"):
        assert name in index, name
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in next(licenses.glob("pyside6-essentials-*/LGPL-3.0.txt")).read_text()
    assert next(licenses.glob("tensorflow*/**/THIRD_PARTY_NOTICES.txt")).stat().st_size > 100_000
    assert (licenses / "ExoDeepFinder-weights.txt").is_file() == weights_bundled(app_dir)
    if weights_bundled(app_dir):
        assert "Lachuer et al., PLoS Comput Biol 2025" in (licenses / "ExoDeepFinder-weights.txt").read_text()
    readme = (app_dir / "README.txt").read_text()
    assert f"ExoDeep {__version__}" in readme and "./install.sh" in readme and "glibc 2.31" in readme


def test_glibc_the_bundle_needs(app_dir):
    limit = os.environ.get("EXODEEP_INSTALLER_GLIBC_MAX")
    done = subprocess.run([sys.executable, str(ROOT / "installer" / "linux" / "glibc_check.py"), str(app_dir),
                           *(["--max", limit] if limit else [])], capture_output=True, text=True, timeout=600)
    print(done.stdout)
    assert done.returncode == 0, done.stderr
    assert "glibc needed: 2." in done.stdout
    # the desktop's own libraries come from the desktop (installer/bundle_config.py LINUX_SYSTEM_LIBS)
    for lib in ("libstdc++.so.6", "libgcc_s.so.1", "libfontconfig.so.1", "libX11.so.6", "libglib-2.0.so.0"):
        assert not (app_dir / "_internal" / lib).exists(), lib


def test_frozen_help_and_version(app_dir, tmp_path):
    env = frozen_env(tmp_path)
    done = subprocess.run([str(app_dir / "ExoDeep"), "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("detect", "analyze", "train", "evaluate", "simulate", "spots", "models", "demo"):
        assert f"  ExoDeep {command} " in done.stdout, command
    assert "  ExoDeep --self-test" in done.stdout and "  ExoDeep [MOVIE...] [--demo]" in done.stdout
    done = subprocess.run([str(app_dir / "ExoDeep"), "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == f"ExoDeep {__version__}"


def test_frozen_app_finds_its_models_offline_with_an_empty_data_folder(app_dir, tmp_path):
    env = frozen_env(tmp_path, EXODEEP_OFFLINE="1")
    done = subprocess.run([str(app_dir / "ExoDeep"), "models"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "exodeep-sim-small" in done.stdout
    if weights_bundled(app_dir):
        line = done.stdout.split("exodeepfinder ", 1)[1].splitlines()[1]
        assert str(app_dir / "_internal" / "resources" / "models") in line, done.stdout
    assert not (tmp_path / "data" / "models").exists() or not any((tmp_path / "data" / "models").iterdir())


def test_frozen_bundle_self_test(app_dir, tmp_path):
    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    spec = UNetSpec(filters=(4, 6, 8))
    model = save_model_folder(build_unet(spec), spec, tmp_path / "tiny")
    env = frozen_env(tmp_path, EXODEEP_OFFLINE="1")
    for args in (["--self-test", "--model", str(model)], ["--self-test"]):
        out = subprocess.run([str(app_dir / "ExoDeep"), *args], capture_output=True, text=True, env=env, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "self-test OK: frozen=True" in out.stdout


def test_install_sh_of_the_archive(app_dir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in frozen_env(tmp_path).items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    subprocess.run(["sh", str(app_dir / "install.sh")], check=True, env=env, capture_output=True, timeout=120)
    done = subprocess.run([str(home / ".local" / "bin" / "exodeep"), "--version"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stdout.strip() == f"ExoDeep {__version__}"
    subprocess.run(["sh", str(app_dir / "uninstall.sh")], check=True, env=env, capture_output=True, timeout=120)
    assert not any(home.rglob("*"))


def test_frozen_app_is_the_python_of_slurm_jobs(app_dir, tmp_path):
    """A SLURM job from dask-jobqueue runs ``<python> -m distributed.cli.dask_worker SCHEDULER --nanny …``
    with python = the app's ExoDeep: its worker (spawned by the nanny) joins a scheduler, runs work and
    reports its packages' versions; and ``ExoDeep detect … --cluster slurm`` writes that job script
    (dask-jobqueue's defaults are bundled)."""
    from distributed import Client, LocalCluster
    from distributed.versions import optional_packages, required_packages

    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    exe = app_dir / "ExoDeep"
    env = frozen_env(tmp_path, EXODEEP_OFFLINE="1")
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as cluster, Client(cluster) as client:
        worker = subprocess.Popen([str(exe), "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nthreads", "1", "--nanny", "--local-directory", str(tmp_path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            client.wait_for_workers(1, timeout=120)
            assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
            (where,) = client.run(lambda: (getattr(__import__("sys"), "frozen", False),
                                           __import__("sys").executable)).values()
            assert where == (True, str(exe))
            (info,) = client.scheduler_info()["workers"].values()
            assert info["nanny"]                                # the worker is the nanny's spawned process
            # distributed's version check: the worker reports the real versions of the packages it has (their
            # metadata is bundled), not None, else every worker logs "Mismatched versions found"; None for
            # those it has not (pandas, left out)
            names = required_packages + optional_packages
            (has,) = client.run(lambda names: [n for n in names if __import__("importlib.util").util.find_spec(n)],
                                names).values()
            versions = client.get_versions()
            (reported,) = (w["packages"] for w in versions["workers"].values())
            assert set(required_packages) <= set(has)
            assert [n for n in has if reported[n] is None] == [], reported
            assert [n for n in names if n not in has and reported[n] is not None] == [], reported   # no claims
            for pinned in ("dask", "distributed"):
                assert reported[pinned] == versions["client"]["packages"][pinned]
        finally:
            worker.terminate()
            log = worker.communicate(timeout=60)[0].decode(errors="replace")
        assert worker.returncode == 0 and "Traceback" not in log, log[-3000:]

    write_simulated_set(tmp_path / "movies", 1, SimulationParams(frames=12, height=32, width=32, events=1), seed=0)
    done = subprocess.run([str(exe), "detect", str(tmp_path / "movies"), "--model", "exodeep-sim-small",
                           "--out", str(tmp_path / "out"), "--cluster", "slurm", "--dry-run"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"\n{exe} -m distributed.cli.dask_worker tcp://" in done.stdout and "#SBATCH -t 01:00:00" in done.stdout
