"""Build the Cython kernels of the ``cnn_ext`` package.

Project metadata lives in ``pyproject.toml``; this file only declares the
extension modules. Set ``CNN_EXT_DEBUG=1`` at build time to compile the
kernels with bounds, wraparound and initialisation checks turned on.
"""

import os
import sysconfig

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG_BUILD = os.environ.get("CNN_EXT_DEBUG", "0") not in ("", "0")

compiler_directives = {
    "language_level": 3,
    "boundscheck": DEBUG_BUILD,
    "wraparound": DEBUG_BUILD,
    "initializedcheck": DEBUG_BUILD,
    "cdivision": True,
}

define_macros = [("CNN_EXT_DEBUG", "1" if DEBUG_BUILD else "0"),
                 ("NPY_NO_DEPRECATED_API", "NPY_1_22_API_VERSION"),
                 # The caching allocator (NEP 49) needs NumPy's memory-handler API of 1.22.
                 ("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")]

#: The direct kernels' folder: their C headers, and the .pxi their modules include.
DIRECT = "cnn_ext/engines/direct"

extensions = [
    Extension(
        f"cnn_ext.{name}",
        [f"cnn_ext/{name.replace('.', '/')}.pyx"],
        define_macros=define_macros,
        include_dirs=[numpy.get_include(), DIRECT],
    )
    for name in ("loops.im2col", "loops.pool", "loops.activations", "engines.unfold_loops",
                 "engines.depthwise_loops", "engines.direct.cpu", "runtime.memory", "_build_info")
]


def instruction_sets():
    """``(name, macros, compiler flags)`` of each direct-convolution module to build.

    Each module is its own translation unit with its own flags, and only it: the rest of the
    package stays at the platform's baseline, so a CPU without AVX2 never meets an AVX2
    instruction (cnn_ext.engines.direct.dispatch imports a module only where the CPU supports
    it). The target platform, not the build machine, decides (cibuildwheel cross-compiles macOS
    arm64 on x86).
    """
    sets = [("baseline", [], [])]
    platform = sysconfig.get_platform()
    if platform.endswith(("x86_64", "amd64")) or platform == "win32":
        msvc = platform.startswith("win")
        sets += [("avx2", [("CNN_SIMD_AVX2", "1")], ["/arch:AVX2"] if msvc else ["-mavx2", "-mfma"]),
                 ("avx512", [("CNN_SIMD_AVX512", "1")],
                  ["/arch:AVX512"] if msvc else ["-mavx512f", "-mavx2", "-mfma"])]
    return sets


extensions += [
    Extension(
        f"cnn_ext.engines.direct.kernels_{name}",
        [f"{DIRECT}/kernels_{name}.pyx"],
        define_macros=define_macros + macros,
        include_dirs=[DIRECT],
        extra_compile_args=flags,
    )
    for name, macros, flags in instruction_sets()
]


class AlwaysRebuild(build_ext):
    """Compile every time: release and debug builds share ``build/``, whose
    timestamps cannot tell which mode an existing object was built in. The ``.pyx``
    sources are turned into C here, when the extensions are built, not each time a
    build frontend runs this file for metadata; the modules compile side by side,
    one per core (``--parallel`` on the command line overrides)."""

    def initialize_options(self):
        super().initialize_options()
        self.force = True
        self.parallel = os.cpu_count() or 1

    def run(self):
        generated = cythonize(
            self.extensions,
            compiler_directives=compiler_directives,
            build_dir="build/cython",
            force=True,
            nthreads=os.cpu_count() or 1,
        )
        sources = {extension.name: extension.sources for extension in generated}
        for extension in self.extensions:
            extension.sources = sources[extension.name]
        super().run()

setup(
    ext_modules=extensions,
    cmdclass={"build_ext": AlwaysRebuild},
)
