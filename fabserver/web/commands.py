"""``fabserver add-staff``: create a staff account (and optionally an API token)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import data_option


def _build_runtime(ctx: click.Context, data: Path):
    from ..jobs.runtime import build_runtime
    from ..jobs.settings import Settings

    profiles = ctx.find_root().obj.get("profiles") if ctx.find_root().obj else None
    return build_runtime(Settings.from_env(data, profile_dir=profiles))


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
    "--site",
    "sites",
    multiple=True,
    metavar="ID",
    help="A site whose jobs and stock this account works on (repeatable; see `fabserver sites`).",
)
@click.option("--all-sites", is_flag=True, help="Every site: a network administrator.")
@data_option
@click.pass_context
def add_staff(
    ctx: click.Context,
    username: str,
    display_name: str,
    password: str,
    api_token: bool,
    sites: tuple[str, ...],
    all_sites: bool,
    data: Path,
) -> None:
    """Create a staff account that can log in to /staff."""
    from .auth import create_staff, issue_token

    runtime = _build_runtime(ctx, data)
    try:
        user = create_staff(
            runtime, username, password, display_name, sites=list(sites), all_sites=all_sites
        )
    except ValueError as exc:
        runtime.close()
        raise click.ClickException(str(exc)) from None
    where = "every site" if user.all_sites else "site(s) " + ", ".join(user.sites)
    click.echo(f"staff account '{user.username}' created ({where})")
    if api_token:
        click.echo(f"API token (shown once): {issue_token(runtime, user.id, 'add-staff')}")
    runtime.close()


@click.command("staff-password")
@click.argument("username")
@click.option(
    "--password",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    envvar="FABSERVER_STAFF_PASSWORD",
    help="At least 8 characters (prompted when not given).",
)
@data_option
@click.pass_context
def staff_password(ctx: click.Context, username: str, password: str, data: Path) -> None:
    """Change a staff member's password; every page session they have open ends."""
    from .auth import set_password

    runtime = _build_runtime(ctx, data)
    try:
        ended = set_password(runtime, username, password)
    except (ValueError, LookupError) as exc:
        raise click.ClickException(str(exc.args[0])) from None
    finally:
        runtime.close()
    click.echo(f"password of '{username}' changed; {ended} open session(s) ended")
