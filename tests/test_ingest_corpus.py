"""Golden files: every document of tests/data/feeds, served over HTTP and ingested, gives the
articles that tests/data/feeds/expected.json (written by hand from the formats) describes."""

import json
import unicodedata
from datetime import datetime

import pytest

from tests.upstream import CORPUS

EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_document(name, sources, upstream):
    expected = EXPECTED[name]
    source_id = sources.add(upstream.serve_file(f"/{name}", name))
    outcome = sources.refresh(source_id)
    source = sources.get(source_id)
    if expected["format"] is None:
        assert outcome.error.startswith("not a feed"), outcome
        assert sources.articles(source_id) == []
        return
    assert outcome.error == "", outcome
    assert bool(source.last_warning) == expected["bozo"], source.last_warning
    assert source.title == nfc(expected["feed_title"])
    articles = sources.articles(source_id)
    if "entries_count" in expected:
        assert len(articles) == expected["entries_count"]
        for title in expected.get("titles_include", []):
            assert nfc(title) in [a.title for a in articles]
        if "first_title" in expected:
            assert articles[0].title == nfc(expected["first_title"])
        for article in articles:
            assert len(article.title) <= expected.get("max_title_length", 10_000)
            assert len(article.body_html) <= expected.get("max_content_length", 10**9)
            for forbidden in expected.get("must_not_contain_anywhere", []):
                assert forbidden not in article.title + article.body_html + article.summary
        return
    assert len(articles) == len(expected["entries"])
    for article, entry in zip(articles, expected["entries"], strict=True):
        assert article.title == nfc(entry["title"])
        assert article.link == entry["link"]
        dated = entry["published"] or entry.get("updated")  # no published: updated stands in
        if dated:
            assert article.published_at == datetime.fromisoformat(dated)
            assert not article.published_at_estimated
        else:
            assert article.published_at_estimated
        assert article.author == nfc(entry["author"] or "")
        for fragment in entry.get("content_contains", []):
            assert nfc(fragment) in article.body_html + article.summary, fragment
        enclosure = entry.get("enclosure")
        if enclosure:
            assert (article.image_url, article.image_length, article.image_type) == (
                enclosure["url"],
                enclosure["length"],
                enclosure["type"],
            )
