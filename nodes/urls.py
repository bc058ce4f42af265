from __future__ import annotations

from django.urls import URLPattern, path

from nodes import views

urlpatterns: list[URLPattern] = [
    path("cluster/nodes", views.NodeCollectionView.as_view(), name="cluster-nodes"),
    path("cluster/nodes/delete", views.NodeDeleteView.as_view(), name="cluster-nodes-delete"),
    path("models", views.ModelListView.as_view(), name="models"),
]
