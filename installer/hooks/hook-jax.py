# PyInstaller hook for jax (the JAX backend: the Intel Mac build). jax reads its own and jaxlib's
# versions from their package metadata and imports parts of jax._src by name.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("jax._src.lib")
datas = copy_metadata("jax")
