"""Which Label Studio URL and key a project's audit uses, and scrubbing secrets from text."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from backend.labelstudio.client import same_origin
from backend.service.policy import MissingCredentials
from backend.settings import Settings
from backend.store import Store

#: The user:password@ part of any URL in a message.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

__all__ = ["Credentials", "MissingCredentials"]


class Credentials:
    """The environment's Label Studio credentials first, then what /setup stored."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def of(self, project: int) -> tuple[str, str]:
        """Return the Label Studio (url, key) for a project: environment first, then /setup.

        A token from /setup is only ever used with the URL it came with: when the
        environment names another Label Studio, or /setup later gave another hostname
        without a token, there is no key for the project.
        """
        stored_url, stored_key = self.store.credentials(project)
        url = self.settings.label_studio_url or stored_url
        key = self.settings.label_studio_api_key
        if not key and stored_key and (not stored_url or same_origin(stored_url, url)):
            key = stored_key
        if not url or not key:
            missing = " and ".join(
                name
                for name, value in (("LABEL_STUDIO_URL", url), ("LABEL_STUDIO_API_KEY", key))
                if not value
            )
            held = (
                " (the token /setup gave came with another Label Studio URL and is never sent "
                "elsewhere)"
                if stored_key and not key
                else ""
            )
            raise MissingCredentials(
                f"no Label Studio credentials for project {project}{held}: set {missing}, or "
                "connect the backend to the project in Label Studio (its /setup call carries "
                "them)"
            )
        return url, key

    def secrets(self, project: int | None = None) -> list[str]:
        """Return every secret this service knows (to scrub from messages)."""
        found = [
            self.settings.label_studio_api_key,
            self.settings.basic_auth_pass,
            self.settings.signing_key,
        ]
        if project is not None:
            found.append(self.store.credentials(project)[1])
        return [s for s in found if s]

    def scrub(self, text: str, project: int | None = None) -> str:
        """Return ``text`` with every known secret, and the credentials inside any URL,
        replaced by ``***``."""
        for secret in self.secrets(project):
            text = text.replace(secret, "***")
        return _USERINFO.sub("***@", text)

    def fetcher(self, url: str, key: str) -> Callable[[str], bytes]:
        """Return fetch(ref) -> bytes for the media of tasks of that Label Studio."""
        from backend.labelstudio.media import MediaPolicy, fetch_bytes

        return functools.partial(
            fetch_bytes,
            base_url=url,
            api_key=key,
            timeout=self.settings.image_timeout,
            allow_local=False,
            policy=MediaPolicy.from_setting(self.settings.media_hosts),
        )
