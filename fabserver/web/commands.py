"""``fabserver add-staff``: create a staff account (and optionally an API token)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("add-staff")
@click.argument("username")
@click.option("--display-name", default="", help="Name shown in the audit trail.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="FABSERVER_STAFF_PASSWORD",
    help="At least 8 characters (prompted when not given).",
)
@click.option("--api-token", is_flag=True, help="Also print a new API token for this account.")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FABSERVER_DATA",
    default=Path("data"),
    show_default=True,
)
@click.pass_context
def add_staff(
    ctx: click.Context, username: str, display_name: str, password: str, api_token: bool, data: Path
) -> None:
    """Create a staff account that can log in to /staff."""
    from ..jobs.runtime import build_runtime
    from ..jobs.settings import Settings
    from .auth import create_staff, issue_token

    profiles = ctx.find_root().obj.get("profiles") if ctx.find_root().obj else None
    runtime = build_runtime(Settings.from_env(data, profile_dir=profiles))
    try:
        user = create_staff(runtime, username, password, display_name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff account '{user.username}' created")
    if api_token:
        click.echo(f"API token (shown once): {issue_token(runtime, user.id, 'add-staff')}")
    runtime.close()
