from __future__ import annotations

from django.urls import path

from workflows.api import metrics, views

urlpatterns = [
    path("workflow", views.WorkflowListCreateView.as_view(), name="workflow-list"),
    path("workflow/<uuid:task_id>", views.WorkflowDetailView.as_view(), name="workflow-detail"),
    path(
        "workflow/<uuid:task_id>/events", views.WorkflowEventsView.as_view(), name="workflow-events"
    ),
    path(
        "workflow/<uuid:task_id>/outputs/<int:index>",
        views.WorkflowOutputView.as_view(),
        name="workflow-output",
    ),
    path("preview/<uuid:task_id>", views.PreviewView.as_view(), name="preview"),
    path("preview/<uuid:task_id>/image", views.PreviewImageView.as_view(), name="preview-image"),
    path("metrics", metrics.metrics, name="metrics"),
]
