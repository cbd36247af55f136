"""The Django user behind a token: the built-in server's own user, or one named after an external subject."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def external_user(username: str):
    """The user named after an external token's subject, created (with no usable password) on first sight.

    Operators grant it groups and permissions in the admin like any other user; it cannot log in here.
    """
    model = get_user_model()
    name = username[: model._meta.get_field(model.USERNAME_FIELD).max_length]
    user, created = model.objects.get_or_create(**{model.USERNAME_FIELD: name})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
