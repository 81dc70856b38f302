#!/usr/bin/env bash
# Build ncnn's Caffe converter, caffe2ncnn, for the ncnn runtime of `verify` and the tests.
#
# Usage: scripts/build_caffe2ncnn.sh SRC_DIR OUTPUT    (`make caffe2ncnn NCNN_TOOL_SRC=SRC_DIR`)
#
# No package registry ships caffe2ncnn (the pip `ncnn` wheel is the runtime only). SRC_DIR holds its two upstream
# files, `caffe2ncnn.cpp` and `caffe.proto`: any checkout of Tencent/ncnn's tools/caffe, or the copy in the shared
# tools (ncnn-caffe2ncnn). The tool does not link libncnn: protoc + g++ against Debian's protobuf 3.21, about 30 s.
# OUTPUT is rebuilt only when the sources, this script or the protoc version change (the key is kept beside it).
set -euo pipefail

usage="usage: build_caffe2ncnn.sh SRC_DIR OUTPUT (SRC_DIR: caffe2ncnn.cpp and caffe.proto from ncnn's tools/caffe)"
SRC=${1:?$usage}
OUT=${2:?$usage}
log() { printf '[build_caffe2ncnn] %s\n' "$*" >&2; }

for file in caffe2ncnn.cpp caffe.proto; do
  if [ ! -f "$SRC/$file" ]; then
    log "$SRC has no $file: NCNN_TOOL_SRC must hold caffe2ncnn.cpp and caffe.proto (ncnn's tools/caffe)"
    exit 2
  fi
done

# Debian 12 package names; installed only when missing (as scripts/build_caffe.sh does).
missing=$(for p in g++ protobuf-compiler libprotobuf-dev; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  log "installing Debian packages: $(echo $missing)"
  if [ "$(id -u)" != 0 ]; then log "need root (or these packages installed) to continue"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

key=$( { cat "$0" "$SRC/caffe2ncnn.cpp" "$SRC/caffe.proto"; protoc --version; } | sha256sum | cut -c1-16)
stamp="$(dirname "$OUT")/.$(basename "$OUT").key"
if [ -x "$OUT" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
  log "up to date: $OUT (built from these sources)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$SRC/caffe2ncnn.cpp" "$SRC/caffe.proto" "$work/"
log "building caffe2ncnn from $SRC"
(cd "$work" && protoc --cpp_out=. caffe.proto &&
  g++ -O1 -o caffe2ncnn caffe2ncnn.cpp caffe.pb.cc -I. -lprotobuf -lpthread)
# Without arguments it prints its usage and exits 255: proof that it links and starts.
started=$("$work/caffe2ncnn" 2>&1 || true)
case "$started" in *Usage:*) ;; *) log "the built caffe2ncnn does not start: $started"; exit 1 ;; esac
mkdir -p "$(dirname "$OUT")"
cp "$work/caffe2ncnn" "$OUT.part"
mv "$OUT.part" "$OUT"
echo "$key" > "$stamp"
log "built $OUT"
