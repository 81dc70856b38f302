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
# ncnn's caffe2ncnn goes beside the venv's python, where gluon2caffe looks for it (NCNN_TOOL_SRC: see caffe2ncnn).
CAFFE2NCNN := $(VENV)/bin/caffe2ncnn

.PHONY: demo test fuzz zoo bench setup caffe openvino caffe2ncnn proto readme lint clean

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

# ncnn's Caffe converter, built from its two sources: NCNN_TOOL_SRC=DIR holds caffe2ncnn.cpp and caffe.proto (any
# checkout's tools/caffe). No registry ships it; rebuilt only when the sources change (scripts/build_caffe2ncnn.sh).
# The runtime itself is the pip `ncnn` of requirements.txt (make setup).
caffe2ncnn:
	@test -n "$(NCNN_TOOL_SRC)" || { echo "make caffe2ncnn: set NCNN_TOOL_SRC=DIR, a directory holding ncnn's" \
		"tools/caffe/caffe2ncnn.cpp and caffe.proto (e.g. a checkout of github.com/Tencent/ncnn)" >&2; exit 2; }
	bash scripts/build_caffe2ncnn.sh "$(NCNN_TOOL_SRC)" $(CAFFE2NCNN)

demo: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 $(VENV)/bin/gluon2caffe demo $(DEMO_ARGS)

# Under `make test` (and `make fuzz`) a missing pycaffe, OpenCV, MNN or OpenVINO stops the session with an error,
# never a skip (GLUON2CAFFE_REQUIRE_CAFFE, read by tests/conftest.py). Without caffe2ncnn the ncnn checks skip and
# the session says so at the start and the end; `make test NCNN_TOOL_SRC=DIR` builds it first (.ci/run does, and
# also sets GLUON2CAFFE_REQUIRE_NCNN=1, which makes a missing ncnn an error too).
# Two pytest workers (the machines have 2 cores), one test file each at a time so a file's module fixtures (the
# converted zoo models of tests/test_runtimes.py) are built once; a worker a runtime aborts is replaced and its test
# fails. TEST_JOBS= runs in one process.
TEST_JOBS ?= -n 2 --dist loadfile
test: $(STAMP) $(CAFFE_STAMP) $(OPENVINO_STAMP) $(if $(NCNN_TOOL_SRC),caffe2ncnn)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 MXNET_SUBGRAPH_BACKEND=NONE $(PY) -m pytest $(TEST_JOBS) $(PYTEST_ARGS)

# The random-network differential tests with a long random profile (FUZZ_EXAMPLES, default 3000), for local use.
fuzz: $(STAMP) $(CAFFE_STAMP) $(OPENVINO_STAMP)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 GLUON2CAFFE_FUZZ_PROFILE=fuzz $(PY) -m pytest \
		tests/test_random_nets.py tests/test_loader_fuzz.py --hypothesis-show-statistics $(PYTEST_ARGS)

# Convert and verify the whole zoo (every task family of tools/zoo_models.py) in the real Caffe; rewrites
# docs/model_zoo.md (ZOO_ARGS="--task segmentation", --family ...). ZOO_ARGS="--runtime mnn --runtime ncnn" also runs each model in those runtimes and
# writes docs/runtimes.md instead.
zoo: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 $(VENV)/bin/gluon2caffe zoo --jobs 2 $(ZOO_ARGS)

# Conversion speed/memory against the tofile floor and MXNet's ONNX exporter, and the converted models' forward
# speed; prints the tables and rewrites docs/benchmarks.md (BENCH_ARGS=--no-onnx ...). onnx only for this.
bench: $(STAMP) $(CAFFE_STAMP)
	$(PY) -m pip install -q --no-deps -r requirements-bench.txt
	GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE $(PY) bench/bench.py $(BENCH_ARGS)

# Regenerate gluon2caffe/caffe/caffe_pb2.py from caffe.proto (Debian 12's protoc 3.21, matching protobuf==4.21.12).
proto:
	protoc --proto_path=. --python_out=. gluon2caffe/caffe/caffe.proto

# Regenerate the README's supported-operator table from the registry.
readme: $(STAMP)
	$(PY) scripts/sync_readme.py

lint: $(STAMP)
	$(VENV)/bin/ruff check gluon2caffe tests scripts bench --exclude gluon2caffe/caffe/caffe_pb2.py
	$(VENV)/bin/ruff format --check gluon2caffe tests scripts bench --exclude gluon2caffe/caffe/caffe_pb2.py

clean:
	rm -rf $(VENV) $(OPENVINO_VENV) out .pytest_cache
