"""Where a ShopNudge installation keeps its keys and embedded database: the instance folder.

A command run from another folder must find the same installation, never start a new one with
new keys and an empty database beside wherever the shell happens to be. The folder is, in order:
SHOPNUDGE_INSTANCE_PATH; `./instance` when the current folder has one (a checkout); the
`instance` folder of the checkout ShopNudge is installed from (`pip install -e`); the user's data
folder (`$XDG_DATA_HOME/shopnudge`, else `~/.local/share/shopnudge`). Only the commands that set
an installation up (`db upgrade`, `demo`, `serve`, `worker`) create one, in the user's data
folder, and say so.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: The checkout this package was installed from (an editable install runs from it).
CHECKOUT = Path(__file__).resolve().parent.parent


class InstanceNotFound(LookupError):
    """No instance folder exists where one is looked for; the message says how to make one."""


def user_data_folder(env: dict[str, str]) -> Path:
    """The per-user data folder (XDG base directories), where a new installation goes."""
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local/share")
    return Path(base) / "shopnudge"


def candidates(env: dict[str, str], checkout: Path = CHECKOUT) -> list[Path]:
    """The folders looked at, in order, when SHOPNUDGE_INSTANCE_PATH is not set."""
    found = [Path.cwd() / "instance", checkout / "instance", user_data_folder(env)]
    return list(dict.fromkeys(path.resolve() for path in found))


def find_instance(
    configured: str, env: dict[str, str], create: bool, checkout: Path = CHECKOUT
) -> Path:
    """The instance folder; created (in the user's data folder) only when `create` is set."""
    if configured:
        path = Path(configured).resolve()
        if not path.is_dir() and not create:
            raise InstanceNotFound(
                f"SHOPNUDGE_INSTANCE_PATH={configured} does not exist; create it with "
                "`shopnudge db upgrade` or point the variable at your installation"
            )
        path.mkdir(parents=True, exist_ok=True)
        return path
    looked = candidates(env, checkout)
    for path in looked:
        if path.is_dir():
            return path
    if not create:
        raise InstanceNotFound(
            "no ShopNudge installation found (looked in "
            + ", ".join(str(path) for path in looked)
            + "); set SHOPNUDGE_INSTANCE_PATH, or run `shopnudge db upgrade` to create one in "
            + str(looked[-1])
        )
    path = user_data_folder(env).resolve()
    path.mkdir(parents=True, exist_ok=True)
    log.warning("created a new ShopNudge installation in %s", path)
    return path
