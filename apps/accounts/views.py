"""Django's auth views, told to the open sockets."""

from django.contrib.auth import views as auth_views

from . import services


class LogoutView(auth_views.LogoutView):
    """Django's logout; then the socket opened with the ended session closes."""

    def post(self, request, *args, **kwargs):
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            services.user_logged_out(user_id=user_id)
        return response
