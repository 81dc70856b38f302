# gluon2caffe: `make demo` and `make test` each set everything up on first use (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CAFFE_STAMP := $(VENV)/.caffe
# OpenVINO's Model Optimizer pins protobuf 3.20 / numpy 1.25: its own venv (see requirements-openvino.txt), where
# gluon2caffe/verification/runtime_openvino.py looks for it (else $GLUON2CAFFE_OPENVINO_PYTHON).
OPENVINO_VENV := .venv-openvino
OPENVINO_STAMP := $(OPENVINO_VENV)/.installed
# Python 3.12 and 3.13 without MXNet (which imports only on <= 3.11): each venv is `pip install '.[opencv]'` (the core
# package, plus OpenCV as the runtime of `verify --reference` there), from pyenv's interpreters (else python3.12 /
# python3.13 on PATH; PY312=... / PY313=... name others). tests/frontend/test_no_mxnet.py converts exported zoo models in them
# (GLUON2CAFFE_PY312 / GLUON2CAFFE_PY313 name other venvs' pythons). No such Python: `make test` stops, never skips.
# Reinstalled (not editable: the installed package is what is tested) whenever pyproject.toml or a source changes.
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
PY312 ?= $(firstword $(wildcard $(PYENV_ROOT_DIR)/versions/3.12*/bin/python) $(shell command -v python3.12 2>/dev/null))
PY313 ?= $(firstword $(wildcard $(PYENV_ROOT_DIR)/versions/3.13*/bin/python) $(shell command -v python3.13 2>/dev/null))
PACKAGE_FILES := pyproject.toml $(shell find gluon2caffe -name '*.py' -o -name '*.proto' -o -name '*.md' 2>/dev/null)
NO_MXNET_STAMPS := .venv-py312/.installed .venv-py313/.installed
# The NPU toolchains and format bridges, each in its own venv beside the checkout (requirements-<name>.txt says why each
# pin), where gluon2caffe/verification/runtime_<name>.py looks for it (else $GLUON2CAFFE_<NAME>_PYTHON) and runs it
# as a child process: `make tpu-mlir` (runtimes tpu-mlir, tpu-mlir-bm1684x), `make rknn`, `make onnx`, `make paddle`.
# TPU-MLIR and rknn-toolkit2 need Python 3.10, found like 3.12 (PY310=... names another).
PY310 ?= $(firstword $(wildcard $(PYENV_ROOT_DIR)/versions/3.10*/bin/python) $(shell command -v python3.10 2>/dev/null))
TPU_MLIR_VENV := .venv-tpu-mlir
RKNN_VENV := .venv-rknn
ONNX_VENV := .venv-onnx
PADDLE_VENV := .venv-paddle
NPU_STAMPS := $(TPU_MLIR_VENV)/.installed $(RKNN_VENV)/.installed $(ONNX_VENV)/.installed $(PADDLE_VENV)/.installed
# ncnn's caffe2ncnn goes beside the venv's python, where gluon2caffe looks for it (NCNN_TOOL_SRC: see caffe2ncnn).
CAFFE2NCNN := $(VENV)/bin/caffe2ncnn

.PHONY: demo test fuzz zoo symbols zoo_graphs bench dist setup caffe openvino tpu-mlir rknn onnx paddle npu caffe2ncnn no_mxnet \
	proto readme lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@# mxnet's wheel links the system OpenMP and quadmath runtimes.
	@ldconfig -p | grep -q libgomp.so.1 && ldconfig -p | grep -q libquadmath.so.0 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1 libquadmath0; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@# gluoncv declares opencv-python (GUI build), which would clobber the headless cv2: its deps are in requirements.txt.
	$(PY) -m pip install -q --no-deps gluoncv==0.10.5.post0
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

caffe: $(CAFFE_STAMP)

$(CAFFE_STAMP): $(STAMP) scripts/build_caffe.sh
	bash scripts/build_caffe.sh $(PY)
	@touch $@

openvino: $(OPENVINO_STAMP)

$(OPENVINO_STAMP): requirements-openvino.txt
	@test -x $(OPENVINO_VENV)/bin/python || $(PYTHON) -m venv $(OPENVINO_VENV)
	$(OPENVINO_VENV)/bin/python -m pip install -q -r requirements-openvino.txt
	@# Telemetry off before Model Optimizer first runs (without a consent file it sends usage data). The consent is
	@# per user (~/intel/openvino_telemetry); it is recorded as declined first because `opt_in_out --opt_out` itself
	@# sends one "opted out" event unless the file already says so.
	$(OPENVINO_VENV)/bin/python -c "from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, \
		OptInChecker; assert OptInChecker().update_result(ConsentCheckResult.DECLINED), 'consent file not written'"
	$(OPENVINO_VENV)/bin/opt_in_out --opt_out
	@touch $@

# Each target: a venv from the right interpreter (created once), its requirements, a stamp; rerun only when the
# requirements (or the install script) change. Sizes and times on a fresh machine: docs/runtimes.md.
npu: $(NPU_STAMPS)
tpu-mlir: $(TPU_MLIR_VENV)/.installed
rknn: $(RKNN_VENV)/.installed
onnx: $(ONNX_VENV)/.installed
paddle: $(PADDLE_VENV)/.installed

$(TPU_MLIR_VENV)/.installed: requirements-tpu-mlir.txt scripts/install_tpu_mlir.sh
	bash scripts/install_tpu_mlir.sh "$(PY310)" $(TPU_MLIR_VENV) requirements-tpu-mlir.txt
	@touch $@

$(RKNN_VENV)/.installed: requirements-rknn.txt
	@test -n "$(PY310)" && test -x "$(PY310)" || { echo "make rknn: no Python 3.10 here (looked in \
	$(or $(PYENV_ROOT_DIR),pyenv root)/versions/3.10*/bin/python and python3.10 on PATH): install one (pyenv install \
	3.10) or name it, make PY310=/path/to/python3.10" >&2; exit 2; }
	@test -x $(RKNN_VENV)/bin/python || "$(PY310)" -m venv $(RKNN_VENV)
	$(RKNN_VENV)/bin/python -m pip install -q -r requirements-rknn.txt
	@touch $@

# --no-deps: every package is pinned in the file (caffe2onnx declares an onnx that cannot be installed on 3.11).
$(ONNX_VENV)/.installed: requirements-onnx.txt
	@test -x $(ONNX_VENV)/bin/python || $(PYTHON) -m venv $(ONNX_VENV)
	$(ONNX_VENV)/bin/python -m pip install -q --no-deps -r requirements-onnx.txt
	@touch $@

$(PADDLE_VENV)/.installed: requirements-paddle.txt
	@test -x $(PADDLE_VENV)/bin/python || $(PYTHON) -m venv $(PADDLE_VENV)
	$(PADDLE_VENV)/bin/python -m pip install -q -r requirements-paddle.txt
	@touch $@

no_mxnet: $(NO_MXNET_STAMPS)

.venv-py3%/.installed: $(PACKAGE_FILES)
	@python=$(if $(filter 12,$*),$(PY312),$(PY313)); version=3.$*; \
	test -n "$$python" && test -x "$$python" || { echo "make: no Python $$version here (looked in \
	$(or $(PYENV_ROOT_DIR),pyenv root)/versions/$$version*/bin/python and python$$version on PATH): install one \
	(pyenv install $$version) or name it, make PY3$*=/path/to/python$$version; tests/frontend/test_no_mxnet.py needs it" >&2; exit 2; }; \
	test -x .venv-py3$*/bin/python || "$$python" -m venv .venv-py3$*
	@# A fresh venv's pip/setuptools cannot build a pyproject package on 3.12+ (no distutils): upgrade them first.
	.venv-py3$*/bin/python -m pip install -q --upgrade pip setuptools
	@# eager: the newest versions the ranges allow, as a fresh machine's `pip install .` gets them.
	.venv-py3$*/bin/python -m pip install -q --upgrade --upgrade-strategy eager '.[opencv]'
	@# The same version number: pip keeps an installed copy unless told; the sources changed, reinstall it.
	.venv-py3$*/bin/python -m pip install -q --force-reinstall --no-deps .
	@touch $@

# ncnn's Caffe converter, built from its two sources: NCNN_TOOL_SRC=DIR holds caffe2ncnn.cpp and caffe.proto (any
# checkout's tools/caffe). No registry ships it; rebuilt only when the sources change (scripts/build_caffe2ncnn.sh).
# The runtime itself is the pip `ncnn` of requirements.txt (make setup).
caffe2ncnn:
	@test -n "$(NCNN_TOOL_SRC)" || { echo "make caffe2ncnn: set NCNN_TOOL_SRC=DIR, a directory holding ncnn's" \
		"tools/caffe/caffe2ncnn.cpp and caffe.proto (e.g. a checkout of github.com/Tencent/ncnn)" >&2; exit 2; }
	bash scripts/build_caffe2ncnn.sh "$(NCNN_TOOL_SRC)" $(CAFFE2NCNN)

demo: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 $(VENV)/bin/gluon2caffe demo $(DEMO_ARGS)

# Under `make test` (and `make fuzz`) a missing pycaffe, OpenCV, MNN, OpenVINO or NPU toolchain / format bridge
# (TPU-MLIR, rknn-toolkit2, caffe2onnx + ONNX Runtime, x2paddle + Paddle: their venvs are prerequisites) stops the
# session with an error, never a skip (GLUON2CAFFE_REQUIRE_CAFFE, read by tests/conftest.py). Without caffe2ncnn the ncnn checks skip and
# the session says so at the start and the end; `make test NCNN_TOOL_SRC=DIR` builds it first (.ci/run does, and
# also sets GLUON2CAFFE_REQUIRE_NCNN=1, which makes a missing ncnn an error too).
# Two pytest workers (the machines have 2 cores), one test file each at a time so a file's module fixtures (the
# converted zoo models of tests/verification/test_runtimes_models.py) are built once. A worker that dies (a runtime abort, the OOM killer)
# fails its test and is not replaced (--max-worker-restart=0): pytest-xdist 3.8's loadfile scheduler can hang after
# a replacement, and a red session now beats a hung one. TEST_JOBS= runs in one process. The zoo lists are sampled, a model per family
# (tests/helpers.zoo_sample); `make test GLUON2CAFFE_ZOO_TESTS=all` runs every classifier, SSD and YOLOv3 (`make zoo`
# sweeps every family).
TEST_JOBS ?= -n 2 --dist loadfile --max-worker-restart=0
test: $(STAMP) $(CAFFE_STAMP) $(OPENVINO_STAMP) $(NPU_STAMPS) $(NO_MXNET_STAMPS) $(if $(NCNN_TOOL_SRC),caffe2ncnn)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 MXNET_SUBGRAPH_BACKEND=NONE $(PY) -m pytest $(TEST_JOBS) $(PYTEST_ARGS)

# The random-network differential tests with a long random profile (FUZZ_EXAMPLES, default 3000), and the operator
# property suite (OP_FUZZ_EXAMPLES in pycaffe, default 5000, a quarter of that per runtime), for local use.
fuzz: $(STAMP) $(CAFFE_STAMP) $(OPENVINO_STAMP) $(NPU_STAMPS)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 GLUON2CAFFE_FUZZ_PROFILE=fuzz MXNET_SUBGRAPH_BACKEND=NONE $(PY) -m pytest \
		tests/properties/test_random_nets.py tests/frontend/test_loader_fuzz.py tests/properties/test_op_properties.py --hypothesis-show-statistics \
		$(PYTEST_ARGS)

# Convert and verify the whole zoo (every task family of gluon2caffe/zoo/catalog.py) in the real Caffe; rewrites
# docs/model_zoo.md (ZOO_ARGS="--task segmentation", --family ...). ZOO_ARGS="--runtime mnn --runtime ncnn" also
# runs each model in those runtimes and writes docs/runtimes.md, with the pycaffe rows merged into docs/model_zoo.md.
# The command writes only where it is told (-o): the docs are this repository's.
ZOO_DOCS = $(if $(findstring --runtime,$(ZOO_ARGS)),--output docs/runtimes.md --zoo-output docs/model_zoo.md,--output \
	docs/model_zoo.md)
zoo: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 $(VENV)/bin/gluon2caffe zoo --jobs 2 $(ZOO_DOCS) $(ZOO_ARGS)

# The symbol-API networks built from their authors' definitions (gluon2caffe/zoo/symbol_nets.py: MXNet's
# image-classification example symbols, insightface's face backbones, a RetinaFace-style detector), with live random
# weights, saved as classic checkpoints, converted with both shape inferences and verified in the real Caffe end to
# end and layer by layer; rewrites docs/symbol_models.md and .json (SYMBOLS_ARGS="--models resnet-18,alexnet").
symbols: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE $(PY) scripts/symbol_models.py $(SYMBOLS_ARGS)

# The shipped zoo graphs (gluon2caffe/zoo/shipped_graphs/, read by `convert NAME --params FILE`): compare every record
# with a fresh GluonCV trace (ZOO_GRAPHS_ARGS= rewrites them instead; a few minutes either way).
ZOO_GRAPHS_ARGS ?= --check
zoo_graphs: $(STAMP)
	GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE $(PY) scripts/zoo_graphs.py $(ZOO_GRAPHS_ARGS)

# Conversion speed/memory against the tofile floor and MXNet's ONNX exporter, and the converted models' forward
# speed; prints the tables and rewrites docs/benchmarks.md (BENCH_ARGS=--no-onnx ...). onnx only for this.
bench: $(STAMP) $(CAFFE_STAMP)
	$(PY) -m pip install -q --no-deps -r requirements-bench.txt
	GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE $(PY) bench/bench.py $(BENCH_ARGS)

# Regenerate gluon2caffe/caffe/caffe_pb2.py from caffe.proto (Debian 12's protoc 3.21, matching protobuf==4.21.12).
proto:
	protoc --proto_path=. --python_out=. gluon2caffe/caffe/caffe.proto

# Regenerate docs/operators.md's supported-operator table from the registry, and the command transcripts of the
# README and docs/*.md from real runs (scripts/sync_readme.py: a few minutes; `--table-only` for the table alone).
readme: $(STAMP)
	$(PY) scripts/sync_readme.py

# The sdist and the wheel in dist/ (no package is published: users `pip install dist/gluon2caffe-*.whl`, with
# `'...whl[mxnet]'` for live blocks and zoo names); the wheel holds the package, its proto and the shipped zoo graphs.
dist: $(STAMP)
	rm -rf dist build
	$(PY) -m build --outdir dist .
	@ls -l dist

lint: $(STAMP)
	$(VENV)/bin/ruff check gluon2caffe tests scripts bench --exclude gluon2caffe/caffe/caffe_pb2.py
	$(VENV)/bin/ruff format --check gluon2caffe tests scripts bench --exclude gluon2caffe/caffe/caffe_pb2.py

clean:
	rm -rf $(VENV) $(OPENVINO_VENV) .venv-py312 .venv-py313 $(TPU_MLIR_VENV) $(RKNN_VENV) $(ONNX_VENV) $(PADDLE_VENV) \
		out .pytest_cache
