"""labelaudit's card in Label Studio's Settings -> Model: what the last push did."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import translate_errors
from backend.labelstudio.predictions import VERSION_PREFIX

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.push")

#: Between the name a lead gave labelaudit's connection and the audit's state on its card.
TITLE_SEPARATOR = " · "
#: What the connection's description says (Settings -> Model -> Edit).
BACKEND_DESCRIPTION = (
    "labelaudit finds annotations that are probably wrong. Each audited task gets one "
    "prediction: the suggested label, and as its score the suspicion, the estimated chance "
    'that the annotator\'s label is wrong. The "Needs re-review" tab lists the flagged tasks, '
    "most suspicious first."
)


def _number(version: str) -> bool:
    import re

    return re.fullmatch(re.escape(VERSION_PREFIX) + r"-(\d+)", version or "") is not None


def describe_backend(ls: LabelStudio, project_id: int, state: str) -> None:
    """Show ``state`` on labelaudit's card in Settings -> Model (its title is all it shows).

    labelaudit's connections are those whose stored model_version (the /setup answer) is
    one of ours; the title keeps what the lead named the connection, before " · ". Best
    effort: a card that cannot be updated is logged, never a failed push.
    """
    try:
        with translate_errors(f"listing models of project {project_id}"):
            backends = list(ls.ml.list(project=project_id))
        for backend in backends:
            if not _number(backend.model_version or "") or not backend.id:
                continue
            name = (backend.title or VERSION_PREFIX).split(TITLE_SEPARATOR)[0]
            # Label Studio re-checks the connection on every update: a basic-auth one needs
            # its method and user again, and an empty password keeps the stored one.
            auth: dict[str, Any] = {}
            if backend.auth_method == "BASIC_AUTH":
                auth = {
                    "auth_method": "BASIC_AUTH",
                    "basic_auth_user": backend.basic_auth_user,
                    "basic_auth_pass": "",
                }
            with translate_errors(f"updating model {backend.id} of project {project_id}"):
                # Label Studio 1.23.2 answers 500 to an update without url and project.
                ls.ml.update(
                    backend.id,
                    url=backend.url,
                    project=project_id,
                    title=f"{name}{TITLE_SEPARATOR}{state}",
                    description=BACKEND_DESCRIPTION,
                    **auth,
                )
    except (ConnectionError, TimeoutError, ValueError, PermissionError) as err:
        logger.warning("could not update the model card of project %s: %s", project_id, err)
