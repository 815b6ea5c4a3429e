"""SQL fragments shared by the derived tables: who did it, what the details say, which UTC day it was."""

from __future__ import annotations

USER_KEY_SQL = "coalesce(lower(nullif(user_email, '')), nullif(user_id, ''), nullif(user_name, ''))"
"""One identity per person: the email (case-insensitive) when known, else the user id, else the name."""

USER_DISPLAY_SQL = "coalesce(nullif(user_name, ''), nullif(user_email, ''), nullif(user_id, ''), 'System')"

UTC_DAY_SQL = "CAST(timezone('UTC', occurred_at) AS DATE)"
UTC_HOUR_SQL = "hour(timezone('UTC', occurred_at))"
UTC_ISO_WEEKDAY_SQL = "isodow(timezone('UTC', occurred_at))"

HOUR_MICROS = 3_600_000_000
DAY_MICROS = 24 * HOUR_MICROS


def epoch_bucket_sql(micros: int, column: str = "occurred_at") -> str:
    """Which `micros`-long period since 1970 a timestamp falls in, counted in integer arithmetic.

    Much cheaper than time-zone aware truncation over millions of rows. Floor division by hand: DuckDB's
    `//` truncates towards zero, which would merge the periods on either side of 1970.
    """
    epoch = f"epoch_us({column})"
    return f"({epoch} - (({epoch} % {micros}) + {micros}) % {micros}) // {micros}"


UTC_DAY_NUMBER_SQL = epoch_bucket_sql(DAY_MICROS)
"""Days since 1970-01-01 (UTC) of occurred_at: the same day as `UTC_DAY_SQL`, as an integer."""

MAX_INFO_DISPLAY_CHARS = 200


def sql_list(values: tuple[str, ...]) -> str:
    """A parenthesised list of SQL string literals, for `IN` over code constants only."""
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + ")"

# (additional_info key, label) in the order they are shown; keys are code constants, never input.
# The main details say what the event was about; when an event has none, the actor's role is shown instead
# (as the platform's Audit Logs page does), followed by the minor details such as how someone logged in.
INFO_DISPLAY_FIELDS: tuple[tuple[str, str], ...] = (
    ("scan_id", "Scan ID"),
    ("target_user", "User"),
    ("ticket_id", "Ticket"),
    ("ticketing_vendor", "Vendor"),
    ("channel", "Channel"),
    ("messaging_vendor", "Via"),
    ("recipient", "To"),
    ("severity", "Severity"),
    ("policy_name", "Policy"),
    ("setting", "Setting"),
    ("integration", "Integration"),
    ("s3_bucket", "Bucket"),
    ("enabled", "Enabled"),
    ("workflow_name", "Workflow"),
    ("token_name", "Token"),
    ("query", "Search"),
    ("exported_events", "Exported events"),
    ("message", "Message"),
)
MINOR_INFO_DISPLAY_FIELDS: tuple[tuple[str, str], ...] = (
    ("login_type", "Login type"),
    ("mfa_method", "MFA"),
    ("failure_reason", "Reason"),
    ("error", "Error"),
)


def info_text(key: str, column: str = "additional_info") -> str:
    """The text of one additional_info value; a list becomes its items joined by commas."""
    path = f"'$.\"{key}\"'"
    items = f"from_json(json_extract({column}, {path}), '[\"VARCHAR\"]')"
    return (
        f"CASE json_type({column}, {path}) "
        f"WHEN 'ARRAY' THEN array_to_string({items}, ', ') "
        f"WHEN 'OBJECT' THEN json_extract({column}, {path})::VARCHAR "
        f"ELSE nullif(json_extract_string({column}, {path}), '') END"
    )


def new_role_sql(column: str = "additional_info") -> str:
    """The role a Role Changed event grants: `new_role`, else the platform API's `member_roles`."""
    return f"coalesce({info_text('new_role', column)}, {info_text('member_roles', column)})"


def _labelled(fields: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"CASE WHEN {info_text(key)} IS NOT NULL THEN '{label}: ' || {info_text(key)} END"
            for key, label in fields]


def info_display_sql() -> str:
    """A short human line for the Additional Info column: role change, scan id, ticket, channel..."""
    role_change = (
        f"CASE WHEN {new_role_sql()} IS NOT NULL THEN 'Role: ' || "
        f"coalesce({info_text('old_role')} || ' → ', '') || {new_role_sql()} END"
    )
    main = "nullif(concat_ws(' · ', " + ", ".join([role_change, *_labelled(INFO_DISPLAY_FIELDS)]) + "), '')"
    minor = ", ".join(_labelled(MINOR_INFO_DISPLAY_FIELDS))
    joined = f"nullif(concat_ws(' · ', coalesce({main}, 'Role: ' || nullif(user_role, '')), {minor}), '')"
    return f"left({joined}, {MAX_INFO_DISPLAY_CHARS})"
