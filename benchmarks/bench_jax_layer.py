"""One 3×3×3 convolution layer (padding, convolution, bias, ReLU) on a 20 × 128 × 128 × 32 float32 chunk,
the way the streaming engine runs it, on each engine: TensorFlow (a tf.function), JAX as separate keras.ops
and as one jax.jit function, each JAX variant on XLA's default CPU runtime ("thunks") and on its classic one
(``--xla_cpu_use_thunk_runtime=false``, what exodeep_gui.ml selects for jaxlib < 0.7), and the classic
runtime with XLA's Eigen threading off (does it limit the cores a worker takes?). Each in its own process (XLA_FLAGS is read when JAX starts); prints
the mean seconds of 5 calls after a warm-up, and the cores used.

  python benchmarks/bench_jax_layer.py
"""

import os
import subprocess
import sys

SHAPE, KERNEL = (1, 20, 128, 128, 32), (3, 3, 3, 32, 32)
CHILD = r"""
import os, resource, sys, time
import numpy as np
kind = sys.argv[1]
x = np.random.default_rng(0).random(%r, np.float32)
k = np.random.default_rng(1).random(%r, np.float32) * 0.01
b = np.random.default_rng(2).random(%r, np.float32)
pad = [(0, 0), (0, 0), (1, 1), (1, 1), (0, 0)]
if kind == "tensorflow":
    import tensorflow as tf
    xs, ks, bs = tf.constant(x), tf.constant(k), tf.constant(b)
    f = tf.function(lambda x: tf.nn.relu(tf.nn.bias_add(tf.nn.conv3d(tf.pad(x, pad), ks, [1] * 5, "VALID"), bs)))
    call = lambda: f(xs).numpy()
else:
    import jax, jax.numpy as jnp
    from keras import ops
    xs, ks, bs = jnp.asarray(x), jnp.asarray(k), jnp.asarray(b)
    if kind == "keras.ops":
        f = lambda x: ops.relu(ops.add(ops.conv(ops.pad(x, pad), ks, padding="valid"), bs))
    else:
        f = jax.jit(lambda x: jax.nn.relu(jax.lax.conv_general_dilated(
            jnp.pad(x, pad), ks, (1, 1, 1), "VALID", dimension_numbers=("NDHWC", "DHWIO", "NDHWC")) + bs))
    call = lambda: f(xs).block_until_ready()
call()
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(5):
    call()
dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
print(f"RESULT {dt / 5:.3f} {cpu / dt:.2f}")
""" % (SHAPE, KERNEL, (KERNEL[-1],))

CLASSIC = "--xla_cpu_use_thunk_runtime=false"
RUNS = [("TensorFlow, tf.function", "tensorflow", {}),
        ("JAX keras.ops, default runtime", "keras.ops", {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=true"}),
        ("JAX jax.jit, default runtime", "jit", {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=true"}),
        ("JAX keras.ops, classic runtime", "keras.ops", {"XLA_FLAGS": CLASSIC}),
        ("JAX jax.jit, classic runtime", "jit", {"XLA_FLAGS": CLASSIC}),
        ("JAX jax.jit, classic, multi_thread_eigen=false", "jit",
         {"XLA_FLAGS": f"{CLASSIC} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"})]


def main() -> int:
    print(f"one layer: input {SHAPE}, kernel {KERNEL}; {os.cpu_count()} CPUs")
    for label, kind, extra in RUNS:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow" if kind == "tensorflow" else "jax",
                   **extra)
        out = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, env=env)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
        if not line:
            print(f"{label:40s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        seconds, cores = line[0].split()[1:]
        print(f"{label:40s} {float(seconds):6.3f} s a call, {cores} cores busy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
