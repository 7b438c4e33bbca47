"""The admin pages' forms. Every one is a FlaskForm, so each carries and checks a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError

from app.core import strict_json
from app.core.entities import annotation


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
    back = HiddenField(default="", validators=[AnyOf(["", "edit"])])  # "edit": answer with the editor's page

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


WEB_ANNOTATIONS = ("web-export", "raw-http", "final")
_WEB = {"true": {"web-export": True, "raw-http": False, "final": True},
        "raw": {"web-export": True, "raw-http": True, "final": True}}
"""``wsk action update --web true|raw``'s annotations; ``false`` removes them (``delAnnotations``)."""


def web_mode(annotations: list[dict[str, Any]]) -> str:
    """``true``, ``raw`` or ``false``: how an action is exported, read from its annotations."""
    if annotation(annotations, "web-export") is not True:
        return "false"
    return "raw" if annotation(annotations, "raw-http") is True else "true"


class ActionForm(FlaskForm):  # type: ignore[misc]
    """An action's code, kind, parameters, limits and web export, as the editor page posts them.

    Only the form's shape is checked here; ``request_body`` turns it into the REST API's ``ActionPut`` body, and the
    use case checks it (kind, sizes, limits' ranges) exactly as it checks a ``PUT``. An empty limit is left out:
    the deployment's default on create, the action's own on update.
    """

    kind = SelectField("Kind", validate_choice=False)  # the use case refuses an unknown kind in its own words
    main = StringField("Entry function (empty: main)", validators=[Optional(), Length(max=256)])
    # Browsers send a textarea's line breaks as CRLF (HTML's form encoding): stored as the LF the code was written with.
    code = TextAreaField("Code", validators=[DataRequired("Write some code first.")],
                         filters=[lambda text: text.replace("\r\n", "\n") if isinstance(text, str) else text])
    parameters = TextAreaField("Parameters (JSON object)", default="{}", validators=[_json_object])
    timeout = IntegerField("Timeout (ms)", validators=[Optional()])
    memory = IntegerField("Memory (MB)", validators=[Optional()])
    logs = IntegerField("Log size (MB)", validators=[Optional()])
    concurrency = IntegerField("Concurrent activations per container", validators=[Optional()])
    web = SelectField("Web action", default="false",
                      choices={"false": "no", "true": "yes", "raw": "yes, raw HTTP"})
    rev = HiddenField()  # the revision the page was loaded at: saving over a newer one is a conflict
    init_keys = HiddenField(default="[]")  # parameters that were init parameters stay so

    LIMITS = ("timeout", "memory", "logs", "concurrency")

    def kinds(self, families: dict[str, list[str]], current: str | None = None) -> None:
        """The kind select's options, grouped by family (plus ``current`` if the manifest no longer offers it)."""
        choices: dict[str, str | dict[str, str]] = {family: {kind: kind for kind in kinds}
                                                    for family, kinds in families.items()}
        if current and not any(current in kinds for kinds in families.values()):
            choices[current] = f"{current} (no longer offered)"
        self.kind.choices = choices

    def request_body(self, create: bool) -> dict[str, Any]:
        """The ``PUT /actions/{name}`` body this form stands for (JSON, as a client would send it)."""
        values: dict[str, Any] = strict_json.loads((self.parameters.data or "").strip() or "{}")
        init = set(self._init_keys())
        exec_: dict[str, Any] = {"kind": self.kind.data, "code": self.code.data or ""}
        main = (self.main.data or "").strip()
        if main:
            exec_["main"] = main
        body: dict[str, Any] = {
            "exec": exec_,
            "parameters": [{"key": k, "value": v, **({"init": True} if k in init else {})} for k, v in values.items()],
            "limits": {name: getattr(self, name).data for name in self.LIMITS if getattr(self, name).data is not None},
        }
        if self.web.data in _WEB:
            body["annotations"] = [{"key": k, "value": v} for k, v in _WEB[self.web.data].items()]
        elif not create:
            body["delAnnotations"] = list(WEB_ANNOTATIONS)
        return body

    def _init_keys(self) -> list[str]:
        try:
            keys = strict_json.loads(self.init_keys.data or "[]")
        except ValueError:
            return []
        return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


class NewActionForm(ActionForm):
    name = StringField("Name ([package/]name)", validators=[DataRequired(), Length(max=600)])
