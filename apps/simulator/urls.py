from django.urls import path

from . import graph, graph_edges, graph_profile, graph_templates, views

app_name = "simulator"

urlpatterns = [
    path("", views.phone, name="phone"),
    path("control/", views.control, name="control"),
    path("phone/<int:number_id>/send/", views.phone_send, name="phone-send"),
    path("phone/<int:number_id>/<str:customer>/thread/", views.phone_thread, name="phone-thread"),
    path("graph/media-download/<str:media_id>/", graph.media_download, name="media-download"),
    path("profile-picture/<int:upload_id>/", graph_profile.profile_picture, name="profile-picture"),
    path("graph/api/<str:object_id>/message_templates/<str:action>", graph_templates.templates_archive,
         name="graph-templates-archive"),
    path("graph/<str:version>/<str:object_id>/<str:edge_name>", graph_edges.edge, name="graph-edge"),
    path("graph/<str:version>/<str:object_id>", graph_edges.node, name="graph-node"),
]
