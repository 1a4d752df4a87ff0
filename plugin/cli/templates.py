"""`shopnudge templates create`: an owner's own marketing template, linted and submitted.

It joins the `templates` group of plugin.cli.whatsapp (`templates submit` for the defaults).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin.cli.whatsapp import templates
from plugin.db import get_database
from plugin.stores.registry import find_store
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.templates.authoring import (
    PLACEHOLDERS,
    Draft,
    TemplateLintError,
    create_template,
    lint,
)
from plugin.whatsapp.templates.catalog import account_of
from plugin.whatsapp.uploads import upload_header_image

__all__ = ["templates"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(2)


@templates.command("create", help="Write a marketing template and submit it for Meta's review.")
@click.argument("store_ref", metavar="STORE")
@click.option("--name", required=True, help="lowercase letters, digits and underscores")
@click.option("--language", required=True, help="Meta's language code, e.g. de or en_US")
@click.option(
    "--body",
    required=True,
    help="The text; placeholders: " + ", ".join("{{" + n + "}}" for n in PLACEHOLDERS),
)
@click.option("--header-image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--button-url", is_flag=True, help="A button to the offer through our tracked link.")
@click.option("--coupon", is_flag=True, help="A copy-code button with the buyer's coupon code.")
@click.option("--no-stop-button", is_flag=True, help="Leave out the 'Stop promotions' reply.")
@with_appcontext
def create(
    store_ref: str,
    name: str,
    language: str,
    body: str,
    header_image: Path | None,
    button_url: bool,
    coupon: bool,
    no_stop_button: bool,
) -> None:
    settings = current_app.config["SHOPNUDGE"]
    with get_database().session() as session:
        store = find_store(session, store_ref)
        if store is None:
            _fail(f"no store {store_ref!r} (see `shopnudge stores list`)")
        assert store is not None
        draft = Draft(name, language, body, None, button_url, coupon, not no_stop_button)
        try:
            handle = None
            account = account_of(session, store)
            if header_image is not None and account is not None and not account.dry_run:
                _lint_first(draft)  # no upload for a template that cannot pass
                handle = upload_header_image(account.token, settings, header_image)
            elif header_image is not None:
                handle = f"local:{header_image.name}"  # a dry-run account reviews nothing
            draft = Draft(name, language, body, handle, button_url, coupon, not no_stop_button)
            row = create_template(session, store, settings, draft)
        except TemplateLintError as error:
            _fail("\n".join(["the template breaks Meta's rules:", *error.problems]))
            return
        except (LookupError, ValueError, SendError) as error:
            session.commit()  # the row keeps why the submission failed
            _fail(str(error))
            return
        session.commit()
        click.echo(f"{row.name} ({row.language}): {row.status}")


def _lint_first(draft: Draft) -> None:
    problems = lint(draft)
    if problems:
        raise TemplateLintError(problems)
