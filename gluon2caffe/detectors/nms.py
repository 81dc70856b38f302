"""The end every GluonCV detector graph shares: box_nms over [id, score, corners] rows, an optional post-NMS top-k
slice, and the three outputs (class ids, scores, boxes) sliced from the result."""

from __future__ import annotations

from dataclasses import dataclass

from .graph_match import HeadMismatch, HeadWalk

NMS_OPS = ("_contrib_box_nms", "_contrib_box_non_maximum_suppression")


@dataclass(frozen=True)
class NMS:
    present: bool  # GluonCV leaves box_nms out when nms_thresh is not in (0, 1)
    overlap: float = 0.0
    topk: int = -1
    valid_thresh: float = 0.0
    post: int = -1  # the post-NMS slice; -1 none


def read_outputs(w: HeadWalk) -> str:
    """The tensor the three outputs (ids, scores, boxes) are sliced from."""
    outputs = w.graph.outputs
    if len(outputs) != 3:
        raise HeadMismatch(
            f"the graph's tail is not a GluonCV {w.kind} head: it has {len(outputs)} outputs, expected 3 "
            "(class ids, scores, boxes)"
        )
    result = w.slice_axis(outputs[0], "the class-id output", (2, -1), 0, 1).inputs[0]
    for tensor, role, begin, end in (
        (outputs[1], "the score output", 1, 2),
        (outputs[2], "the box output", 2, (6, None)),
    ):
        if w.slice_axis(tensor, role, (2, -1), begin, end).inputs[0] != result:
            raise w.fail(tensor, f"{role}: a slice of the same detections as the class ids")
    return result


def read_nms(w: HeadWalk, result: str) -> tuple[str, NMS]:
    """(the rows NMS reads, its settings); rows without NMS when the graph has none."""
    node, post = w.producer(result), -1
    if node is not None and node.op == "slice_axis":
        top = w.expect(result, "slice_axis", "the post-NMS top-k", axis=1, begin=0)
        post, result = top.attrs.int("end"), top.inputs[0]
        node = w.producer(result)
        if node is None or node.op not in NMS_OPS:
            raise w.fail(result, "box_nms (the post-NMS top-k slice follows NMS)")
    if node is None or node.op not in NMS_OPS:
        return result, NMS(False)
    nms = w.expect(
        result,
        NMS_OPS,
        "NMS over [id, score, corners] rows",
        id_index=0,
        score_index=1,
        coord_start=2,
        force_suppress=False,
        in_format="corner",
        out_format="corner",
        background_id=-1,
    )
    a = nms.attrs
    settings = NMS(True, a.float("overlap_thresh", 0.5), a.int("topk", -1), a.float("valid_thresh", 0.0), post)
    return nms.inputs[0], settings
