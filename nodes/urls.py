from __future__ import annotations

from django.urls import URLPattern, path

from nodes import views

urlpatterns: list[URLPattern] = [
    path("cluster/nodes", views.NodeCollectionView.as_view(), name="cluster-nodes"),
    path("cluster/nodes/delete", views.NodeDeleteView.as_view(), name="cluster-nodes-delete"),
    # `/models` is ComfyUI's own (folder names), served over the pool by workflows.comfyui_api.
    path("cluster/models", views.ModelListView.as_view(), name="cluster-models"),
]
