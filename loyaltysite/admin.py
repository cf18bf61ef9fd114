"""The admin site: text checked where it enters, like every other form of the site.

Every ModelAdmin registered here, with its inlines, refuses a control character in its
forms' text inputs, and every admin page answers a query string holding one with a 404
before a search or filter takes it to the database (PostgreSQL refuses a NUL). A choice
of many objects refuses a key beyond 64 bits before it is looked up (SQLite raises on
such a number instead of matching nothing).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from surveys.text import query_has_control_characters, refuse_control_characters

View = TypeVar("View", bound=Callable[..., Any])

LARGEST_KEY = 2**63 - 1


class KeysInRange(forms.ModelMultipleChoiceField):
    def clean(self, value: Any) -> Any:
        for key in value if isinstance(value, list | tuple) else []:
            try:
                out_of_range = abs(int(key)) > LARGEST_KEY
            except (TypeError, ValueError):
                continue  # not a number: the usual check says so
            if out_of_range:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": key},
                )
        return super().clean(value)


class TextCheckedAdmin(admin.options.BaseModelAdmin):
    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(field, forms.CharField):
            refuse_control_characters(field)
        return field

    def formfield_for_manytomany(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if isinstance(db_field.target_field, models.IntegerField):
            kwargs.setdefault("form_class", KeysInRange)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def text_checked(admin_class: type) -> type:
    """`admin_class`, and its inlines, with TextCheckedAdmin's form fields."""
    inlines = [
        type(inline.__name__, (TextCheckedAdmin, inline), {})
        for inline in getattr(admin_class, "inlines", [])
    ]
    return type(admin_class.__name__, (TextCheckedAdmin, admin_class), {"inlines": inlines})


class LoyaltyAdminSite(admin.AdminSite):
    site_header = site_title = _("Loyalty surveys")
    index_title = _("Administration")
    # Lazy: the URLs are not loaded yet (the stubs expect a plain str).
    site_url = reverse_lazy("metrics:overview")  # type: ignore[assignment]

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(
            model_or_iterable, text_checked(admin_class or admin.ModelAdmin), **options
        )

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        checked = super().admin_view(view, cacheable)

        @wraps(checked)
        def refusing_control_characters(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponse:
            if query_has_control_characters(request.GET):
                raise Http404(_("The address contains a control character."))
            return checked(request, *args, **kwargs)

        return cast(View, refusing_control_characters)
