"""GluonCV detector heads (SSD, YOLOv3): read from the network, emitted as caffe-ssd layers."""
