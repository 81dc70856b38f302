"""The project's own caffe.proto: reproducible, its own proto package, field numbers identical to Caffe's."""

import subprocess
from pathlib import Path

import caffe  # noqa: F401  (pycaffe's caffe_pb2 must coexist with ours in one process)
from caffe.proto import caffe_pb2 as upstream

from gluon2caffe.caffe import caffe_pb2 as ours

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_reproducible(tmp_path):
    subprocess.run(
        ["protoc", f"--proto_path={ROOT}", f"--python_out={tmp_path}", "gluon2caffe/caffe/caffe.proto"], check=True
    )
    regenerated = (tmp_path / "gluon2caffe/caffe/caffe_pb2.py").read_text()
    assert regenerated == (ROOT / "gluon2caffe/caffe/caffe_pb2.py").read_text(), "run `make proto` and commit"


def test_own_package_coexists_with_pycaffe():
    assert ours.DESCRIPTOR.package == "gluon2caffe.caffe"
    assert upstream.DESCRIPTOR.package == "caffe"


def _check_message(mine, theirs, path):
    for field in mine.fields:
        other = theirs.fields_by_name.get(field.name)
        assert other is not None, f"{path}.{field.name} does not exist in Caffe's schema"
        assert (field.number, field.type, field.label) == (other.number, other.type, other.label), (
            f"{path}.{field.name}"
        )
        if field.message_type is not None:
            _check_message(field.message_type, other.message_type, f"{path}.{field.name}")
        if field.enum_type is not None:
            theirs_values = {v.name: v.number for v in other.enum_type.values}
            for v in field.enum_type.values:
                assert theirs_values.get(v.name) == v.number, f"{path}.{field.name}={v.name}"


def test_every_field_matches_caffe():
    """Names, numbers, types and labels of every field we write equal the real Caffe's (BVLC + caffe-ssd)."""
    for name, message in ours.DESCRIPTOR.message_types_by_name.items():
        _check_message(message, upstream.DESCRIPTOR.message_types_by_name[name], name)


def test_files_read_by_pycaffe_schema(tmp_path):
    net = ours.NetParameter(name="n")
    layer = net.layer.add(name="conv", type="Convolution", bottom=["data"], top=["conv"])
    layer.convolution_param.num_output = 3
    layer.convolution_param.kernel_h = 2
    blob = layer.blobs.add()
    blob.shape.dim.extend([1, 2])
    blob.data.extend([1.5, -2.0])
    theirs = upstream.NetParameter.FromString(net.SerializeToString())
    assert theirs.layer[0].convolution_param.num_output == 3
    assert list(theirs.layer[0].blobs[0].data) == [1.5, -2.0]
