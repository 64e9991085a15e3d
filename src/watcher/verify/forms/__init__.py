"""The poetry form verifier: score a poem against a classic form with a per-constraint rubric.

    from watcher.verify.forms import verify
    res = verify(reply_text, "Villanelle")
    res.score, res.passed, [r.explanation for r in res.failing()]
"""

from watcher.verify.forms.catalog import (
    DEFAULT_FORMS,
    Form,
    UnknownFormError,
    corpus_poems,
    form_slug,
    get_form,
    list_forms,
)
from watcher.verify.forms.clean import clean_poem
from watcher.verify.forms.score import VerifyResult, verify
from watcher.verify.rubric import RubricItem

__all__ = [
    "DEFAULT_FORMS", "Form", "RubricItem", "UnknownFormError", "VerifyResult", "clean_poem",
    "corpus_poems", "form_slug", "get_form", "list_forms", "verify",
]
