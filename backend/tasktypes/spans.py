"""Spans over text (named entities): one ``<Labels>`` control over one ``<Text>``.

An annotation's label is its tuple of :class:`~backend.tasktypes.tokens.Span` (character
ranges with an entity class; none is a valid answer: "no entity here"). The audit works on
tokens (:mod:`backend.tasktypes.tokens`): each token's class is "O" (outside every span)
or its span's class; a token model is cross-validated over tasks, and spans are judged from
their tokens' out-of-fold probabilities (:mod:`backend.tasktypes.span_verdicts`):

* every token gets a **probability that its given class is wrong**: single choice's
  calibrated suspicion (:mod:`backend.tasktypes.calibration`: the token noise matrix
  confident learning estimates, the model's probabilities scaled by a temperature and a
  bias of the entity classes against "O" fitted through it, Bayes' rule) over every
  token;
* a given span can be wrong in its **type** (another type, or no entity: the posterior of
  its class, from the geometric mean of its tokens' probabilities put through the same
  noise matrix, temperature and bias) or its **boundaries** (P(O) of its first or last
  token when it has two or more; P(its class) of an unlabelled token just outside either
  end); its **suspicion** is the larger. With ``filter_by`` "auto" it is flagged when that
  is above 1/2 (an explicit core ``filter_by`` flags tokens with
  ``core.token_classification.find_label_issues`` instead, and a span when such a token
  lies inside it or just outside its ends); its issue is ``wrong label``, ``spurious``
  (the whole span most likely has no entity) or ``boundaries``;
* a span the model finds where no annotation has one is a **missing** span (given "O"),
  flagged when its tokens are, its suspicion the largest of its tokens'.

An annotation's and a task's suspicion is that of their worst span. issues.csv has one
row per span; spans the audit cannot use (past the end of the text, overlapping another)
are in skipped_spans.csv (:func:`backend.tasktypes.tokens.usable_spans`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from backend.labelstudio.dataset import Malformed, TaskKind, UnsupportedConfig, type_name
from backend.tasktypes import Judgement, NothingToAudit, TaskType, register
from backend.tasktypes.single_choice import task_folds
from backend.tasktypes.span_verdicts import CALIBRATED, SKIPPED_COLUMNS, SPAN_FIELDS
from backend.tasktypes.tokens import Span, Suggested, decode

if TYPE_CHECKING:
    from backend.pipeline import AuditResult, Prepared
    from backend.settings import Settings

#: The Label Studio result type (and value key) of a Labels control.
RESULT_TYPE = "labels"
#: The class of tokens outside every span, as issues.csv writes it.
OUTSIDE = "O"
SPAN_COLUMNS = (*SPAN_FIELDS, "suggested_label", "suspicion", "is_label_issue", "issue")


@register
class Spans(TaskType):
    """Entity spans over a text, from a ``<Labels>`` control."""

    name = "spans"
    control_tag = "labels"
    #: "auto": a span is flagged when its calibrated probability of being wrong is above
    #: 1/2 (bench/detection_ner.py measured it against core's filter_by names).
    default_filter_by = CALIBRATED
    suspicion = "P(the span's type or boundaries are wrong), calibrated"
    suspicion_words = (
        "For a span: the probability that it is wrong, the larger of its type (another "
        "type or no entity, judged from all its tokens together) and its boundaries (its "
        "first or last token outside the entity, or an unlabelled neighbouring token "
        "inside it), from a token model that never saw the task, corrected for the label "
        "noise confident learning estimates and calibrated. For a missing span (given O), "
        "the largest probability that one of its tokens is not O."
    )
    flagged_words = (
        "A span is flagged when its probability of being wrong is above 1/2 (with an "
        "explicit <code>filter_by</code>, when a token flagged by "
        "<code>core.token_classification.find_label_issues</code> is inside it or just "
        "outside its ends), and a span the model finds where nobody labelled one is "
        "flagged as missing when one of its tokens is more likely than not in an entity."
    )
    health_words = "1 &minus; the share of given spans flagged (1.00: none)."
    tables: ClassVar[dict[str, tuple[str, ...]]] = {"skipped_spans": SKIPPED_COLUMNS}

    # ------------------------------------------------------------------ label config

    def classes(self, control: Any) -> tuple[str, ...]:
        where = f"<{control.tag} name={control.name!r}>"
        if control.get_attr("value"):
            raise UnsupportedConfig(f"{where} loads its labels from task data")
        classes = tuple(control.labels or ())
        if not classes:
            raise UnsupportedConfig(f"{where} has no <Label> values")
        if OUTSIDE in classes:
            raise UnsupportedConfig(f"{where} has a label named {OUTSIDE!r}, which means outside")
        return classes

    def object_problem(self, tag: str, input_type: str) -> str | None:
        if tag.lower() != "text" or input_type != "text":
            return (
                f"<Labels> spans are audited over a <Text> object; got <{tag}> "
                "(HyperText spans are XPath ranges, not yet supported)"
            )
        return None

    # ------------------------------------------------------------------ annotations

    def read_label(self, result: Any, kind: TaskKind) -> tuple[Span, ...]:
        if not isinstance(result, list):
            raise Malformed(f"annotation result must be a list; got {type_name(result)}")
        spans = []
        for region in result:
            if not isinstance(region, dict) or region.get("from_name") != kind.control:
                continue
            if str(region.get("type", "")).lower() != RESULT_TYPE:
                continue
            value = region.get("value")
            value = value if isinstance(value, dict) else {}
            start, end, labels = value.get("start"), value.get("end"), value.get("labels")
            if not (isinstance(start, int) and isinstance(end, int)) or not _is_int(start):
                raise Malformed(f"span needs integer start < end; got {start!r}, {end!r}")
            if not 0 <= start < end or not _is_int(end):
                raise Malformed(f"span needs integer start < end; got {start!r}, {end!r}")
            if not isinstance(labels, list) or len(labels) != 1:
                got = len(labels) if isinstance(labels, list) else type_name(labels)
                raise Malformed(f"span must hold exactly one label; got {got}")
            if labels[0] not in kind.classes:
                raise Malformed(f"label {labels[0]!r} is not one of {list(kind.classes)}")
            spans.append(Span(start, end, kind.classes.index(labels[0])))
        return tuple(sorted(spans, key=lambda s: (s.start, s.end)))

    def encode(self, labels: list[Any], kind: TaskKind) -> np.ndarray:
        out = np.empty(len(labels), dtype=object)
        out[:] = [tuple(spans) for spans in labels]
        return out

    def present(self, labels: np.ndarray) -> np.ndarray:
        return np.unique([s.label for spans in labels for s in spans]).astype(np.intp)

    def check(self, labels: np.ndarray, kind: TaskKind) -> None:
        if not any(len(spans) for spans in labels):
            raise NothingToAudit("no annotation has a span; there is nothing to audit")

    # ------------------------------------------------------------------ cross-validation

    def model(self, kind: TaskKind, settings: Settings, *, n_samples: int) -> Any:
        """Token features (built once by ``pipeline.prepare``), then the token classifier."""
        from sklearn.pipeline import Pipeline

        from backend.tasktypes.token_model import TokenFeatures, TokenModel  # scikit-learn

        classifier = TokenModel(1 + len(kind.classes), seed=settings.seed)
        return Pipeline([("tokens", TokenFeatures()), ("model", classifier)])

    def empty_probs(self, n_rows: int, num_classes: int) -> np.ndarray:
        return np.empty(n_rows, dtype=object)

    def fold_splits(
        self, prepared: Prepared, *, folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        # Balanced by how many spans a row has (none, one, several).
        strata = np.minimum([len(s) for s in prepared.labels], 2)
        return task_folds(strata, prepared.groups, folds=folds, seed=seed)

    def fit_predict_fold(
        self, prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        model = self.classifier(prepared, settings, n_samples=len(train))
        model.fit(list(prepared.X[train]), list(prepared.labels[train]))
        probs: np.ndarray = model.predict_proba(list(prepared.X[test]))
        return probs

    # ------------------------------------------------------------------ judging

    def judge(self, prepared: Prepared, probs: np.ndarray, settings: Settings) -> Judgement:
        from backend.tasktypes.span_verdicts import judge_spans

        return judge_spans(prepared, probs, self.filter_by(settings.filter_by))

    def final_model(self, prepared: Prepared, result: AuditResult, settings: Settings) -> Any:
        """The token model fitted on every annotation that was not flagged."""
        keep = ~np.asarray(result.is_label_issue, dtype=bool)
        if not any(len(s) for s in prepared.labels[keep]):
            keep[:] = True
        from backend.models import Featurized

        model = self.classifier(prepared, settings, n_samples=int(keep.sum()))
        model.fit(list(prepared.X[keep]), list(prepared.labels[keep]))
        return Featurized(prepared.features, model)

    # ------------------------------------------------------------------ what is written back

    def suggest(self, probs: np.ndarray) -> np.ndarray:
        out = np.empty(len(probs), dtype=object)
        out[:] = [decode(p.text, p.offsets, p.probs) for p in probs]
        return out

    def label_text(self, kind: TaskKind, label: Any) -> str:
        return "; ".join(f"{kind.classes[s.label]}: {_text_of(s)}" for s in label) or OUTSIDE

    def result(self, kind: TaskKind, label: Any) -> list[dict[str, Any]]:
        regions = []
        for span in label:
            value: dict[str, Any] = {
                "start": int(span.start),
                "end": int(span.end),
                RESULT_TYPE: [kind.classes[span.label]],
            }
            region: dict[str, Any] = {
                "from_name": kind.control,
                "to_name": kind.object_name,
                "type": RESULT_TYPE,
                "value": value,
            }
            if isinstance(span, Suggested):
                value["text"] = span.text
                region["score"] = round(span.score, 6)
            regions.append(region)
        return regions

    def issue_rows(self, result: AuditResult) -> list[dict[str, Any]]:
        return list(result.tables.get("spans", []))

    def issues_columns(self) -> tuple[str, ...]:
        return SPAN_COLUMNS

    def summary(self, result: AuditResult) -> dict[str, Any]:
        from backend.report.spans import summary_part

        return summary_part(result)

    def report(self, result: AuditResult) -> Any:
        from backend.report.spans import report_parts

        return report_parts(result)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_of(span: Any) -> str:
    return span.text if isinstance(span, Suggested) else f"{span.start}-{span.end}"
