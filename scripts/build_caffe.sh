#!/usr/bin/env bash
# Build a real Caffe (BVLC + caffe-ssd layers, CPU only) with pycaffe, for the tests and `make demo`.
#
# Usage: scripts/build_caffe.sh VENV_PYTHON
#
# Source: the PyPI sdist brocolli-caffe==9.0.2 (BVLC Caffe plus PriorBox, DetectionOutput, Permute, Normalize,
# ReLU6, ...), built with its Makefile against Debian packages (see shared notes/caffe-runtime.md for why not its
# setup.py/CMake). The result is cached under $GLUON2CAFFE_CACHE (default ~/.cache/gluon2caffe), keyed by this
# script, the Python version and the numpy version, so a second run takes seconds. The venv gets a .pth file that
# points at the cached pycaffe.
set -euo pipefail

PY=${1:?usage: build_caffe.sh VENV_PYTHON}
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")  # absolute, but keep the venv symlink
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${GLUON2CAFFE_CACHE:-$HOME/.cache/gluon2caffe}
SDIST_VERSION=9.0.2
SDIST_SHA256=c6410cc60bdd6db685d441b66be7df05410f8850ac88d6b75d48ef9b2315c08a

log() { printf '[build_caffe] %s\n' "$*" >&2; }

pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
npver=$("$PY" -c 'import numpy; print(numpy.__version__)')
key=$( { cat "$0"; echo "$pyver $npver $SDIST_VERSION"; } | sha256sum | cut -c1-12)
PREFIX="$CACHE/caffe-$SDIST_VERSION-py$pyver-$key"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

link_into_venv() {
  echo "$PREFIX/python" > "$site/gluon2caffe_pycaffe.pth"
  GLOG_minloglevel=2 "$PY" -c 'import caffe; caffe.set_mode_cpu(); print("pycaffe OK:", caffe.__file__)' >&2
}

if [ -f "$PREFIX/.complete" ]; then
  log "cached build at $PREFIX"
  link_into_venv
  exit 0
fi

runtime_pkgs="libopenblas0-pthread libprotobuf32 libgoogle-glog0v6 libgflags2.2 libhdf5-103-1 libhdf5-hl-100
  libboost-filesystem1.74.0 libboost-thread1.74.0 libboost-python1.74.0"
build_pkgs="build-essential protobuf-compiler libprotobuf-dev libopenblas-dev libgoogle-glog-dev libgflags-dev
  libhdf5-dev libboost-system-dev libboost-filesystem-dev libboost-thread-dev libboost-regex-dev libboost-python-dev"
missing=$(for p in $runtime_pkgs $build_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  log "installing Debian packages: $(echo $missing)"
  if [ "$(id -u)" != 0 ]; then log "need root (or these packages installed) to continue"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

work=$(mktemp -d "$CACHE.build.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE"; mktemp -d "$CACHE/build.XXXXXX"; })
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE"
sdist="$CACHE/brocolli-caffe-$SDIST_VERSION.tar.gz"
if [ ! -f "$sdist" ]; then
  log "downloading brocolli-caffe==$SDIST_VERSION sdist"
  "$PY" -m pip download -q --no-deps --no-binary :all: -d "$work/dl" "brocolli-caffe==$SDIST_VERSION"
  mv "$work/dl"/brocolli*caffe-$SDIST_VERSION.tar.gz "$sdist.part"
  mv "$sdist.part" "$sdist"
fi
echo "$SDIST_SHA256  $sdist" | sha256sum -c --quiet - || { log "sha256 mismatch for $sdist"; rm -f "$sdist"; exit 1; }

tar -xzf "$sdist" -C "$work"
src=$(find "$work" -maxdepth 3 -name Makefile -path '*caffe*' -printf '%h\n' | head -1)
[ -n "$src" ] || { log "no Makefile found in the sdist"; exit 1; }
cd "$src"

# Stale generated protobuf code in the sdist (old protoc, same mtime as caffe.proto): make would never regenerate it.
rm -f src/caffe/proto/caffe.pb.cc include/caffe/proto/caffe.pb.h python/caffe/proto/caffe_pb2.py
# The sdist caps a protobuf file read at 512 MB (upstream BVLC uses INT_MAX): vgg16's 528 MB caffemodel would not load.
sed -i 's/SetTotalBytesLimit(536870912)/SetTotalBytesLimit(INT_MAX)/' src/caffe/util/io.cpp
grep -q 'SetTotalBytesLimit(INT_MAX)' src/caffe/util/io.cpp || { log "could not lift the 512 MB read limit"; exit 1; }
grep -q '#include <climits>' src/caffe/util/io.cpp || sed -i '1i #include <climits>' src/caffe/util/io.cpp
# Only the image helpers need skimage/scipy.ndimage; do not require them to import pycaffe.
"$PY" - <<'PYEOF'
import re
p = "python/caffe/io.py"
s = open(p).read()
s = s.replace("import skimage.io\n", "try:\n    import skimage.io\nexcept ImportError:  # only image helpers need it\n    skimage = None\n", 1)
s = s.replace("from scipy.ndimage import zoom\n", "try:\n    from scipy.ndimage import zoom\nexcept ImportError:  # only image helpers need it\n    zoom = None\n", 1)
s = s.replace("from skimage.transform import resize\n", "try:\n    from skimage.transform import resize\nexcept ImportError:  # only image helpers need it\n    resize = None\n", 1)
open(p, "w").write(s)
PYEOF

pyinc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
npinc=$("$PY" -c 'import numpy; print(numpy.get_include())')
cat > Makefile.config <<CFG
CPU_ONLY := 1
USE_CUDNN := 0
USE_OPENCV := 0
USE_LEVELDB := 0
USE_LMDB := 0
BLAS := open
BLAS_INCLUDE := /usr/include/x86_64-linux-gnu/openblas-pthread
PYTHON_LIBRARIES := boost_python311
PYTHON_INCLUDE := $pyinc $npinc
INCLUDE_DIRS := \$(PYTHON_INCLUDE) /usr/local/include /usr/include/hdf5/serial
LIBRARY_DIRS := \$(PYTHON_LIB) /usr/local/lib /usr/lib /usr/lib/x86_64-linux-gnu/hdf5/serial
LINKFLAGS := -Wl,-rpath,\\\$\$ORIGIN/../../lib
Q ?= @
CFG

log "compiling Caffe (about 5 minutes on 2 cores)"
start=$(date +%s)
make -j"$(nproc)" lib py > "$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; log "make failed"; exit 1; }
log "compiled in $(( $(date +%s) - start )) s"

stage="$PREFIX.part"
rm -rf "$stage"; mkdir -p "$stage/lib" "$stage/python"
outdir=$(dirname "$(find . -name 'libcaffe.so*' -path '*lib*' | head -1)")
cp -a "$outdir"/libcaffe.so* "$stage/lib/"
cp -a python/caffe "$stage/python/"
rm -rf "$PREFIX"; mv "$stage" "$PREFIX"
touch "$PREFIX/.complete"
log "installed at $PREFIX"
link_into_venv
