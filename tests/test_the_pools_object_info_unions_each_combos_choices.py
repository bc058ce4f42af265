"""Merging nodes' `/object_info` answers (`workflows.comfyui_api.pool.merge_object_infos`): every
class any has; a class several have as the first describes it, each combo's choices (in either
of ComfyUI's combo forms) the union of theirs, sorted when each node's list was."""

from __future__ import annotations

from typing import Any

from workflows.comfyui_api.pool import merge_object_infos


def loader(files: list[str], *, new_form: bool = False, tooltip: str = "") -> dict[str, Any]:
    spec = ["COMBO", {"options": files}] if new_form else [files, {"tooltip": tooltip}]
    return {"input": {"required": {"name": spec}, "optional": {"strength": ["FLOAT", {}]}}}


def choices(merged: dict[str, Any], class_type: str) -> list[str]:
    spec = merged[class_type]["input"]["required"]["name"]
    return list(spec[1]["options"] if spec[0] == "COMBO" else spec[0])


def test_sorted_file_lists_give_their_sorted_union() -> None:
    merged = merge_object_infos(
        [{"L": loader(["b.safetensors", "d.safetensors"])}, {"L": loader(["a.safetensors"])}]
    )
    assert choices(merged, "L") == ["a.safetensors", "b.safetensors", "d.safetensors"]


def test_the_new_combo_form_is_merged_too() -> None:
    merged = merge_object_infos(
        [{"L": loader(["x"], new_form=True)}, {"L": loader(["w", "x"], new_form=True)}]
    )
    assert choices(merged, "L") == ["w", "x"]


def test_unsorted_lists_keep_the_first_order_then_what_others_add() -> None:
    merged = merge_object_infos(
        [{"L": loader(["z.pt", "pixel_space"])}, {"L": loader(["a.pt", "pixel_space"])}]
    )
    assert choices(merged, "L") == ["z.pt", "pixel_space", "a.pt"]


def test_a_class_several_have_keeps_the_first_description_and_others_are_added() -> None:
    merged = merge_object_infos(
        [
            {"L": loader(["a"], tooltip="first"), "OnlyFirst": {}},
            {"L": loader(["b"], tooltip="second"), "OnlySecond": {}, "Garbage": 7},
        ]
    )
    assert sorted(merged) == ["L", "OnlyFirst", "OnlySecond"]
    assert merged["L"]["input"]["required"]["name"][1] == {"tooltip": "first"}
    assert merged["L"]["input"]["optional"] == {"strength": ["FLOAT", {}]}
