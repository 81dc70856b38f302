# gluon2caffe: `make demo` and `make test` each set everything up on first use (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CAFFE_STAMP := $(VENV)/.caffe

.PHONY: demo test fuzz zoo bench setup caffe proto readme lint clean

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

demo: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 $(VENV)/bin/gluon2caffe demo $(DEMO_ARGS)

# Under `make test` (and `make fuzz`) a missing pycaffe or OpenCV stops the session with an error, never a skip
# (GLUON2CAFFE_REQUIRE_CAFFE, read by tests/conftest.py).
test: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 MXNET_SUBGRAPH_BACKEND=NONE $(PY) -m pytest $(PYTEST_ARGS)

# The random-network differential tests with a long random profile (FUZZ_EXAMPLES, default 3000), for local use.
fuzz: $(STAMP) $(CAFFE_STAMP)
	GLOG_minloglevel=2 GLUON2CAFFE_REQUIRE_CAFFE=1 GLUON2CAFFE_FUZZ_PROFILE=fuzz $(PY) -m pytest \
		tests/test_random_nets.py tests/test_loader_fuzz.py --hypothesis-show-statistics $(PYTEST_ARGS)

# Convert and verify the whole zoo (classifiers, SSD, YOLOv3) in the real Caffe; rewrites docs/model_zoo.md
# (ZOO_ARGS=--family ...).
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
	rm -rf $(VENV) out .pytest_cache
