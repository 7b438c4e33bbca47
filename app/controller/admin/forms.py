"""The admin pages' forms. Every one is a FlaskForm, so each carries and checks a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.core import strict_json


class LoginForm(FlaskForm):  # type: ignore[misc]
    login = StringField("Operator name, namespace uuid, or uuid:key", validators=[DataRequired(), Length(max=300)])
    password = PasswordField("Password or key", validators=[Length(max=300)])


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something (logout, delete, block, rotate, revoke): only the CSRF token."""


def _json_object(form: FlaskForm, field: Any) -> None:
    text = (field.data or "").strip() or "{}"
    try:
        value = strict_json.loads(text)  # as the API reads bodies: no NaN, lone surrogates or runaway nesting
    except ValueError as e:
        raise ValidationError(f"not JSON: {e}") from e
    if not isinstance(value, dict):
        raise ValidationError("parameters must be a JSON object")


class InvokeForm(FlaskForm):  # type: ignore[misc]
    params = TextAreaField("Parameters (JSON object)", default="{}", validators=[_json_object])
    blocking = BooleanField("Wait for the result", default=True)

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = strict_json.loads((self.params.data or "").strip() or "{}")
        return value


class NamespaceForm(FlaskForm):  # type: ignore[misc]
    namespace = StringField("Namespace", validators=[DataRequired(), Length(max=256)])
    subject = StringField("Subject (default: the namespace)", validators=[Optional(), Length(max=256)])


class LimitsForm(FlaskForm):  # type: ignore[misc]
    """A namespace's throttle overrides; an empty field means the deployment's limit."""

    namespace = StringField("Namespace", validators=[DataRequired(), Length(max=256)])
    invocations_per_minute = IntegerField("Invocations per minute", validators=[Optional(), NumberRange(min=0)])
    fires_per_minute = IntegerField("Trigger fires per minute", validators=[Optional(), NumberRange(min=0)])
    concurrent_invocations = IntegerField("Concurrent invocations", validators=[Optional(), NumberRange(min=0)])
    activations_keep_days = IntegerField("Activation records kept (days, 0: for ever)",
                                         validators=[Optional(), NumberRange(min=0, max=36_500)])
    store_activations = SelectField("Store activation records", default="",
                                    choices={"": "the deployment's (yes)", "true": "yes", "false": "no"})
