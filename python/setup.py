"""Builds the extension kvlab._kvlab with the repository's CMake build (target kvlab_python) and installs
it with the pure-Python package. The build tree is KVLAB_BUILD_DIR, default build/ at the repository root,
so an existing Release build is reused and only the bindings compile."""

import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REPO = pathlib.Path(__file__).resolve().parent.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = pathlib.Path(os.environ.get("KVLAB_BUILD_DIR", REPO / "build"))
        configure = ["cmake", "-S", str(REPO), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DKVLAB_PYTHON=ON",
                     f"-DPYTHON_EXECUTABLE={sys.executable}"]
        if not (build / "CMakeCache.txt").exists() and shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "--build", str(build), "--target", "kvlab_python", "-j", jobs])
        built = next((build / "python" / "kvlab").glob("_kvlab*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(ext_modules=[Extension("kvlab._kvlab", sources=[])], cmdclass={"build_ext": CMakeBuild})
