#!/bin/bash
# Build the TPU-MLIR venv (make tpu-mlir): install_tpu_mlir.sh PYTHON3.10 VENV REQUIREMENTS. Idempotent: the venv is
# created once, pip installs what is missing, the glibc fix is applied when the files are still there.
set -euo pipefail
python=$1 venv=$2 requirements=$3
if [ -z "$python" ] || [ ! -x "$python" ]; then
	echo "make tpu-mlir: no Python 3.10 here (looked in \$(pyenv root)/versions/3.10*/bin/python and python3.10 on" \
		"PATH): install one (pyenv install 3.10) or name it, make PY310=/path/to/python3.10 (tpu-mlir requires" \
		"Python < 3.11)" >&2
	exit 2
fi
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q -r "$requirements"
# tpu-mlir bundles Ubuntu 22.04's glibc 2.35 in tpu_mlir/lib/third_party and puts that folder on the LD_LIBRARY_PATH
# of every tool it starts: on a newer system (Debian 12: glibc 2.36) each child Python then dies with
# "version `GLIBC_2.36' not found". The system's own C library is the one to use: move those three files out of the
# searched folder (kept beside the venv, not deleted, so the package stays inspectable).
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
third_party="$site/tpu_mlir/lib/third_party"
kept="$venv/tpu-mlir-bundled-glibc"
test -d "$third_party" || { echo "make tpu-mlir: $third_party not found (another tpu-mlir layout?)" >&2; exit 1; }
mkdir -p "$kept"
for lib in libc.so.6 libm.so.6 libpthread.so.0; do
	if [ -e "$third_party/$lib" ]; then mv "$third_party/$lib" "$kept/$lib"; fi
done
# The check that matters: a tool starts a child Python through the venv's PATH and the bundled library path.
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/model_transform" --help >/dev/null
