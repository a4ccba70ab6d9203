from django import forms
from django.utils.translation import gettext as _


class BootstrapFormMixin:
    """Gives every widget Bootstrap's classes and marks fields with errors as invalid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        # Marked after validation, never in __init__: touching self.errors there would
        # validate the form before subclasses narrow their querysets (e.g. to the user's areas).
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def service_errors_on(form, exc, *, labels: dict | None = None, top: tuple[str, ...] = ()) -> None:
    """Put a service's ValidationError on the form that called it: each error on the input it
    names, else at the top — with the name of what it is about when `labels` knows it
    ("Instalments: …"), so the user sees where to look. `top`: names the form has but does not
    show (a hidden field), whose errors also go to the top."""
    named = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    for name, errors in named:
        for error in errors:
            if name in form.fields and name not in top:
                form.add_error(name, error)
            elif labels and name in labels:
                form.add_error(None, _("%(field)s: %(error)s") % {"field": labels[name], "error": error})
            else:
                form.add_error(None, error)
