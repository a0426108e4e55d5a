# PyInstaller hook for jaxlib (the JAX backend: the Intel Mac build; pyinstaller-hooks-contrib has none).
# jaxlib loads its native extensions and MLIR dialect modules by name at run time (a frozen app without
# them fails on the first computation with "'func.return' op created with unregistered dialect").
from PyInstaller.utils.hooks import collect_dynamic_libs, collect_submodules, copy_metadata

hiddenimports = collect_submodules("jaxlib.mlir") + collect_submodules("jaxlib.cpu")
binaries = collect_dynamic_libs("jaxlib")
datas = copy_metadata("jaxlib")
