"""Build the Cython kernels of the ``cnn_ext`` package.

Project metadata lives in ``pyproject.toml``; this file only declares the
extension modules. Set ``CNN_EXT_DEBUG=1`` at build time to compile the
kernels with bounds, wraparound and initialisation checks turned on.
"""

import glob
import json
import os
import sys
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
#: The package's files a module's code includes: a change to one builds the modules again.
INCLUDED = sorted(path for pattern in ("*.h", "*.pxi", "*.pxd")
                  for path in glob.glob(f"cnn_ext/**/{pattern}", recursive=True))
#: Where Cython writes the C files it translates the ``.pyx`` sources to.
CYTHON_OUTPUT = "build/cython"

extensions = [
    Extension(
        f"cnn_ext.{name}",
        [f"cnn_ext/{name.replace('.', '/')}.pyx"],
        define_macros=define_macros,
        include_dirs=[numpy.get_include(), DIRECT],
        depends=INCLUDED,
    )
    for name in ("loops.im2col", "loops.pool", "loops.activations", "loops.batchnorm",
                 "engines.unfold_loops", "engines.depthwise_loops", "engines.direct.cpu",
                 "runtime.memory", "_build_info")
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
        depends=INCLUDED,
    )
    for name, macros, flags in instruction_sets()
]


class BuildOnce(build_ext):
    """Compile what changed since this tree's last build, and everything when the build's
    settings changed.

    ``pip install .`` builds in the source tree, so ``build/`` keeps the objects of the last
    build: a second install (the quickstart's ``.[test]`` after ``.[plot]``, the docs' extra)
    reuses them rather than compile again. A stamp beside them records what they were built
    with (debug or release, Python, NumPy, Cython, the compiler and its flags); when any of it
    differs, every module is translated and compiled afresh, since timestamps cannot tell a
    debug object from a release one. The ``.pyx`` sources are turned into C here, when the
    extensions are built, not each time a build frontend runs this file for metadata; the
    modules compile side by side, one per core (``--parallel`` on the command line overrides).
    """

    def initialize_options(self):
        super().initialize_options()
        self.parallel = os.cpu_count() or 1

    def finalize_options(self):
        super().finalize_options()
        self.stamp = os.path.join(self.build_temp, "cnn-ext-build-settings.json")
        try:
            with open(self.stamp, encoding="utf-8") as file:
                same = json.load(file) == build_settings()
        except (OSError, ValueError):
            same = False
        self.force = self.force or not same

    def run(self):
        stale = [extension for extension in self.extensions
                 if self.force or translation_is_stale(extension)]
        generated = cythonize(
            stale,
            compiler_directives=compiler_directives,
            build_dir=CYTHON_OUTPUT,
            force=True,
            nthreads=os.cpu_count() or 1,
        ) if stale else []
        sources = {extension.name: extension.sources for extension in generated}
        for extension in self.extensions:
            extension.sources = sources.get(extension.name) or [translated_source(extension)]
        super().run()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(self.stamp, "w", encoding="utf-8") as file:
            json.dump(build_settings(), file)


def translated_source(extension):
    """The C file Cython writes for ``extension``'s ``.pyx`` under :data:`CYTHON_OUTPUT`."""
    return os.path.join(CYTHON_OUTPUT, os.path.splitext(extension.sources[0])[0] + ".c")


def translation_is_stale(extension):
    """Whether ``extension``'s C file is missing or older than its ``.pyx`` or any of the
    package's own ``.pxd``, ``.pxi`` and headers. (Cython's own check also counts its bundled
    ``.pxd`` files, which every fresh build environment installs anew.)"""
    target = translated_source(extension)
    if not os.path.exists(target):
        return True
    newest = max(os.path.getmtime(path) for path in [*extension.sources, *INCLUDED])
    return newest > os.path.getmtime(target)


def build_settings():
    """What the compiled objects depend on besides their sources."""
    import Cython

    return {"debug": DEBUG_BUILD, "python": sys.version, "platform": sysconfig.get_platform(),
            "numpy": numpy.__version__, "cython": Cython.__version__,
            "compiler": {name: os.environ.get(name, "") for name in
                         ("CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "ARCHFLAGS")}}


setup(
    ext_modules=extensions,
    cmdclass={"build_ext": BuildOnce},
)
