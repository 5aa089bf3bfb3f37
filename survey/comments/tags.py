"""Keyword rules an admin defines: a comment containing any keyword of a rule carries its tag.

Keywords match case-insensitively as whole words or phrases ("late", "response time"); a
trailing ``*`` matches any ending ("deliver*" finds delivery, delivered, deliveries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from models.tables import CommentTagRule

TAG_MAX = 60
KEYWORD_MAX = 60
KEYWORDS_MAX = 1000


class TagRuleError(ValueError):
    """A rule was refused; the message names what is wrong. Nothing was changed."""


@dataclass(frozen=True)
class TagRule:
    id: int
    tag: str
    keywords: tuple[str, ...]
    created_by: str

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for keyword in self.keywords:
            prefix = keyword.endswith("*")
            body = r"\s+".join(re.escape(word) for word in keyword.rstrip("*").split())
            parts.append(rf"\b{body}" + (r"\w*" if prefix else r"\b"))
        return re.compile("|".join(parts), re.IGNORECASE)


def _clean_keywords(keywords: str | list[str]) -> tuple[str, ...]:
    raw = keywords.split(",") if isinstance(keywords, str) else list(keywords)
    cleaned: list[str] = []
    for word in raw:
        text = " ".join(str(word).split()).lower()
        if not text:
            continue
        if len(text) > KEYWORD_MAX:
            raise TagRuleError(f"the keyword {text[:20]!r}… has more than {KEYWORD_MAX} characters")
        if not re.search(r"\w", text.rstrip("*")) or "*" in text.rstrip("*"):
            raise TagRuleError(f"the keyword {text!r} needs letters or digits, with * only at its end")
        if text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise TagRuleError("the rule has no keywords: give at least one, separated by commas")
    if len(", ".join(cleaned)) > KEYWORDS_MAX:
        raise TagRuleError(f"the keywords are longer than {KEYWORDS_MAX} characters together")
    return tuple(cleaned)


def _clean_tag(tag: str) -> str:
    text = " ".join(tag.split()) if isinstance(tag, str) else ""
    if not text:
        raise TagRuleError("the tag is empty")
    if len(text) > TAG_MAX:
        raise TagRuleError(f"the tag has {len(text)} characters, more than the {TAG_MAX} allowed")
    if "\x00" in text:
        raise TagRuleError("the tag contains a NUL character")
    return text


def _row(rule: CommentTagRule) -> TagRule:
    return TagRule(
        id=rule.id or 0,
        tag=rule.tag,
        keywords=tuple(k.strip() for k in rule.keywords.split(",") if k.strip()),
        created_by=rule.created_by,
    )


def add_rule(session: Session, tag: str, keywords: str | list[str], *, actor: str, now: datetime) -> TagRule:
    """Add a rule; a tag that exists already is refused (edit it instead)."""
    name = _clean_tag(tag)
    words = _clean_keywords(keywords)
    existing = session.exec(select(CommentTagRule).where(CommentTagRule.tag == name)).first()
    if existing is not None:
        raise TagRuleError(f"a rule for the tag {name!r} exists already: change its keywords instead")
    rule = CommentTagRule(tag=name, keywords=", ".join(words), created_by=actor, created_at=now)
    session.add(rule)
    session.flush()
    return _row(rule)


def update_rule(session: Session, rule_id: int, keywords: str | list[str]) -> TagRule:
    words = _clean_keywords(keywords)
    rule = session.get(CommentTagRule, rule_id)
    if rule is None:
        raise TagRuleError(f"there is no tag rule #{rule_id}")
    rule.keywords = ", ".join(words)
    session.add(rule)
    session.flush()
    return _row(rule)


def delete_rule(session: Session, rule_id: int) -> None:
    rule = session.get(CommentTagRule, rule_id)
    if rule is None:
        raise TagRuleError(f"there is no tag rule #{rule_id}")
    session.delete(rule)
    session.flush()


def list_rules(session: Session) -> list[TagRule]:
    return [_row(rule) for rule in session.exec(select(CommentTagRule).order_by(CommentTagRule.tag)).all()]


def tags_of(text: str | None, rules: list[TagRule]) -> list[str]:
    """The tags whose rules match ``text``, in the rules' order."""
    if not text:
        return []
    return [rule.tag for rule in rules if rule.pattern.search(text)]
