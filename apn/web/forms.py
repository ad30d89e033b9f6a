"""Web forms (Flask-WTF): every form carries a CSRF token; labels and messages are translated lazily."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from apn.errors import DomainError
from apn.inputs import text_problem

WEEKDAYS = [(0, _l("Monday")), (1, _l("Tuesday")), (2, _l("Wednesday")), (3, _l("Thursday")),
            (4, _l("Friday")), (5, _l("Saturday")), (6, _l("Sunday"))]


class CleanText:
    """Refuse control and bidi characters (tab and line breaks only in ``multiline`` text): the check the API
    schemas use too (:func:`apn.inputs.text_problem`), with a translated message next to the field."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str) and text_problem(field.data, multiline=self.multiline):
            raise ValidationError(_("Remove the control characters (invisible characters) from this field."))


def choices(pairs) -> list[SelectChoice]:
    """``SelectChoice`` objects from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _optional_int(value):
    """Coerce a select value to int, or None for the empty choice."""
    if value in (None, "", "None"):
        return None
    return int(value)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (rendered inside a fieldset by the template macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    """Sign in with e-mail and password."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address.")),
                                                          Length(max=200), CleanText()])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")),
                                                          Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    """Ask for a password-reset link."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address.")),
                                                          Length(max=200), CleanText()])


class SetPasswordForm(FlaskForm):
    """Choose a password (after an invitation or a reset)."""

    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=10, max=200, message=_l("The password must be 10–200 characters long."))])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(_l("Repeat the password.")), EqualTo("password", _l("The two passwords are not the same."))])


class GroupForm(FlaskForm):
    """Create or edit a group (attendance card)."""

    name = StringField(_l("Name of the group"), validators=[DataRequired(_l("Enter a name.")), Length(max=120),
                                                            CleanText()])
    main_activity = StringField(_l("Main activity"), validators=[CleanText(), Optional(), Length(max=120)])
    main_facility_id = SelectField(_l("Usual facility"), coerce=_optional_int, validate_choice=True)
    usual_weekday = SelectField(_l("Usual weekday"), coerce=_optional_int,
                                choices=choices([(None, _l("(none)"))] + WEEKDAYS))
    usual_start = TimeField(_l("Usual start time"), validators=[Optional()])
    usual_stop = TimeField(_l("Usual stop time"), validators=[Optional()])
    active = BooleanField(_l("Active (leaders can report for it)"), default=True)

    def validate_usual_stop(self, field):
        """A stop time needs a start time."""
        if field.data and not self.usual_start.data:
            raise ValidationError(_("Give the start time as well."))


class PersonForm(FlaskForm):
    """Add one person to a roster: a personal identity number, or name + birth date + sex."""

    role = SelectField(_l("Role in the group"), choices=choices([("participant", _l("Participant")),
                                                                 ("leader", _l("Leader"))]))
    personnummer = StringField(_l("Personal identity number (YYYYMMDDNNNN)"),
                               validators=[CleanText(), Optional(), Length(max=20)])
    first_name = StringField(_l("First name"), validators=[CleanText(), Optional(), Length(max=50)])
    last_name = StringField(_l("Last name"), validators=[CleanText(), Optional(), Length(max=50)])
    birth_date = DateField(_l("Birth date (YYYY-MM-DD)"), validators=[Optional()],
                           render_kw={"placeholder": "2012-05-17"})
    sex = SelectField(_l("Sex"), choices=choices([("", _l("(choose)")), ("F", _l("Girl/woman")),
                                                  ("M", _l("Boy/man")), ("X", _l("Other"))]),
                      validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        """First and last name, and either a personal identity number or birth date and sex."""
        ok = super().validate(extra_validators)
        if not ok:
            return False
        for fld, msg in ((self.first_name, _("Enter the first name.")),
                         (self.last_name, _("Enter the last name."))):
            if not (fld.data or "").strip():
                fld.errors = [*fld.errors, msg]
                ok = False
        if (self.personnummer.data or "").strip():
            return ok
        for fld, msg in ((self.birth_date, _("Enter the birth date (or a personal identity number).")),
                         (self.sex, _("Choose the sex (or enter a personal identity number)."))):
            if not fld.data:
                fld.errors = [*fld.errors, msg]
                ok = False
        return ok


class RosterImportForm(FlaskForm):
    """Upload a roster file."""

    file = FileField(_l("Roster file (CSV or Excel .xlsx)"),
                     validators=[FileRequired(_l("Choose a file to upload."))])
    default_role = SelectField(_l("Role when the file has no role column"),
                       choices=choices([("participant", _l("Participant")), ("leader", _l("Leader"))]))


class InviteForm(FlaskForm):
    """Invite a leader and give reporting rights for groups."""

    email = EmailField(_l("Leader's e-mail address"), validators=[
        DataRequired(_l("Enter the leader's e-mail address.")), Length(max=200), CleanText()])
    name = StringField(_l("Leader's name"), validators=[DataRequired(_l("Enter the leader's name.")),
                                                         Length(max=120), CleanText()])
    groups = MultiCheckboxField(_l("May report for these groups"), coerce=int,
                                validators=[DataRequired(_l("Choose at least one group."))])


class DakUploadForm(FlaskForm):
    """Upload a DAK file (XML)."""

    file = FileField(_l("DAK file (XML)"), validators=[FileRequired(_l("Choose a file to upload."))])


class SubmitApplicationForm(FlaskForm):
    """Submit the period report."""

    confirm = BooleanField(_l("I confirm that the reported sessions are correct"),
                           validators=[DataRequired(_l("Confirm that the reported sessions are correct."))])


class PartnerClientForm(FlaskForm):
    """Register a partner system (club-administration software)."""

    name = StringField(_l("Name of the partner system"), validators=[DataRequired(_l("Enter a name.")),
                                                                    Length(max=120), CleanText()])


def apply_domain_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a service's :class:`DomainError` next to the field it concerns (or at the top of the form)."""
    message = _(exc.message)
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*list(field.errors or []), message]
    else:
        form.form_errors.append(message)
