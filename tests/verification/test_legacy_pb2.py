"""legacy_pb2: a protoc < 3.20 generated module, rebuilt for the compiled protobuf from its serialized descriptor.

The onnx and paddle runtime tests run it on caffe2onnx's and x2paddle's real caffe_pb2 (their workers install it
before importing the toolchain); these tests pin its contract on a small file of the same old form.
"""

import sys

import pytest
from google.protobuf import descriptor_pb2

from gluon2caffe.verification import legacy_pb2

# What protoc 3.x wrote (descriptors built by direct constructor calls, which protobuf >= 4 refuses), cut down to the
# call that carries the serialized FileDescriptorProto; the file is parsed, never executed, so the rest can be junk.
OLD_STYLE = """
from google.protobuf import descriptor as _descriptor
DESCRIPTOR = _descriptor.FileDescriptor(
  name='{name}.proto',
  package='{name}',
  syntax='proto2',
  serialized_pb={serialized!r}
)
this_name_is_not_defined()
"""


def _old_style_module(tmp_path, monkeypatch, name: str) -> None:
    proto = descriptor_pb2.FileDescriptorProto(name=f"{name}.proto", package=name, syntax="proto2")
    blob = proto.message_type.add(name="BlobProto")
    blob.field.add(name="data", number=5, type=2, label=3, options=descriptor_pb2.FieldOptions(packed=True))  # float
    blob.field.add(name="num", number=1, type=5, label=1, default_value="0")  # int32
    layer = proto.message_type.add(name="V1LayerParameter")
    layer_type = layer.enum_type.add(name="LayerType")
    layer_type.value.add(name="NONE", number=0)
    layer_type.value.add(name="CONCAT", number=3)
    source = OLD_STYLE.format(name=name, serialized=proto.SerializeToString())
    (tmp_path / f"{name}_pb2.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, f"{name}_pb2", raising=False)


def test_rebuilt_module_parses_what_its_messages_wrote(tmp_path, monkeypatch):
    _old_style_module(tmp_path, monkeypatch, "legacyone")
    legacy_pb2.install("legacyone_pb2")
    module = sys.modules["legacyone_pb2"]
    assert module.V1LayerParameter.CONCAT == 3  # nested enum values, as caffe2onnx's op_layer_info reads them
    message = module.BlobProto(num=7)
    message.data.extend([1.5, -2.25, 3.0])
    parsed = module.BlobProto.FromString(message.SerializeToString())
    assert list(parsed.data) == [1.5, -2.25, 3.0] and parsed.num == 7


def test_a_module_without_one_serialized_descriptor_is_refused(tmp_path, monkeypatch):
    (tmp_path / "legacynone_pb2.py").write_text("DESCRIPTOR = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="holds 0 serialized file descriptors"):
        legacy_pb2.install("legacynone_pb2")
    with pytest.raises(ImportError, match="no module"):
        legacy_pb2.install("legacy_pb2_not_there")
