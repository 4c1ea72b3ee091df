"""Bound the nesting depth of an HTML fragment in one linear pass, before it is sanitised.

html5ever (inside nh3) looks through its stack of open elements on most tags, so its cost
grows with tags × depth: a body of 60,000 nested ``<div>`` took 43 s to store.
``limit_nesting`` drops every start tag that would open an element deeper than the limit, and
the end tag that closes it; text, and every element within the limit, are kept.

Depth is counted with the HTML tree builder's own rules for the common cases (void elements,
``<p>``/``<li>``/``<dd>``/``<td>``/``<tr>`` closed by their successors, end tags that close only
what is in scope, the list of active formatting elements that html5ever reopens before text),
so normal HTML, even without its optional end tags, is counted as browsers build it and comes
through unchanged. Where a rule is too intricate to follow here (the adoption agency for
misnested ``<b>``/``<i>``, foreign content, foster parenting), the count assumes elements stay
open, so it is never below the depth html5ever reaches on the output: that is what bounds its
cost. The tokeniser likewise treats as a tag whatever html5ever might read as one.

The limit, 100, is far above what articles use (CMS and word-processor HTML nests 10-30 deep)
and keeps html5ever's work per tag small; browsers themselves cap the DOM at a few hundred.
"""

import re
from collections import Counter

MAX_DEPTH = 100

# <!-- ... --> ends at the earliest end html5ever accepts; <!x>, <?x>, </ x> at the first ">".
_TOKEN = re.compile(
    r"<!--(?:-?>|.*?(?:--!?>|\Z))|<[!?][^>]*>?|<(/?)([a-zA-Z][^\s/>]*)[^>]*>?", re.DOTALL
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SCRIPT_END = re.compile(r"</script[\t\n\f\r />]", re.IGNORECASE)

_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param"
    " source track wbr"
)
_NEVER_OPENED = _names("html head body")  # html5ever merges them into the open ones
_FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
_SCOPE = _names(
    "applet caption html table td th marquee object template"
    " mi mo mn ms mtext annotation-xml foreignobject desc title"
)
_BUTTON_SCOPE = _SCOPE | {"button"}
_LIST_SCOPE = _SCOPE | {"ol", "ul"}
_TABLE_SCOPE = _names("html table template")
_SPECIAL = _SCOPE | _names(
    "address area article aside base basefont bgsound blockquote body br button center col"
    " colgroup dd details dir div dl dt embed fieldset figcaption figure footer form frame"
    " frameset h1 h2 h3 h4 h5 h6 head header hgroup hr iframe img input keygen li link listing"
    " main menu meta nav noembed noframes noscript ol p param plaintext pre script search"
    " section select source style summary tbody textarea tfoot thead tr track ul wbr xmp"
)
_STOPS_ITEM_CLOSE = _SPECIAL - {"address", "div", "p"}  # an <li> does not close an outer one
_HEADINGS = _names("h1 h2 h3 h4 h5 h6")
_CLOSES_P = _HEADINGS | _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption"
    " figure footer header hgroup main menu nav ol p search section summary ul pre listing"
    " plaintext xmp dd dt li"
)
_TABLE_PARTS = _names("caption table tbody td tfoot th thead tr")
_TOP_ONLY = _names("colgroup form select")  # closed here only when current
_NOAHS_ARK = 3  # html5ever keeps at most three identical formatting elements active
_MARKERS = _names("applet caption marquee object td template th")
# Start tags before which html5ever never reopens ("reconstructs") formatting elements; it
# does before text and every other start tag.
_NO_REOPENING = _CLOSES_P - {"xmp"} | _names(
    "html head body base basefont bgsound link meta noframes script style template title form"
    " table hr textarea caption col colgroup frame tbody td tfoot th thead tr param source track"
)

_KINDS = {
    "scope": _SCOPE,
    "button": _BUTTON_SCOPE,
    "list": _LIST_SCOPE,
    "table": _TABLE_SCOPE,
    "special": _SPECIAL,
    "item_stop": _STOPS_ITEM_CLOSE,
}


_KINDS_OF: dict[str, tuple[str, ...]] = {}


def _kinds_of(name: str) -> tuple[str, ...]:
    kinds = _KINDS_OF.get(name)
    if kinds is None:
        kinds = _KINDS_OF[name] = tuple(kind for kind, names in _KINDS.items() if name in names)
    return kinds


# Start tags that may close open elements before they open their own.
_CLOSING_START_TAGS = _CLOSES_P | _names("a nobr li dd dt td th tr button option optgroup")


class _Formatting:
    """An entry of html5ever's list of active formatting elements."""

    __slots__ = ("key", "name", "open")

    def __init__(self, name: str, key: str) -> None:
        self.name, self.key, self.open = name, key, True


class _OpenElements:
    """The stack of open elements and the list of active formatting elements, with the
    position of the latest element of each kind, so that every scope check is O(1) and the
    pass stays linear however deep the input.

    ``depth`` counts the open elements and the active formatting elements that are not open
    (html5ever reopens them before the next text): only a new start tag raises it.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.formatting: list[_Formatting | None] = []  # per open element, its entry if any
        self.by_name: dict[str, list[int]] = {}
        self.by_kind: dict[str, list[int]] = {kind: [] for kind in _KINDS}
        self.active: list[_Formatting | None] = []  # None: a marker (a cell, a caption ...)
        self.closed_active = 0

    @property
    def depth(self) -> int:
        return len(self.names) + self.closed_active

    def last(self, name: str) -> int:
        positions = self.by_name.get(name)
        return positions[-1] if positions else -1

    def in_scope(self, name: str, kind: str) -> bool:
        return self._nothing_above(self.last(name), kind)

    def _nothing_above(self, position: int, kind: str) -> bool:
        """Whether an element is open at ``position`` with no element of ``kind`` above it
        (the element itself may be of that kind)."""
        others = self.by_kind[kind]
        return position >= 0 and (not others or others[-1] <= position)

    def push(self, name: str, entry: _Formatting | None = None) -> None:
        position = len(self.names)
        self.names.append(name)
        self.formatting.append(entry)
        self.by_name.setdefault(name, []).append(position)
        for kind in _kinds_of(name):
            self.by_kind[kind].append(position)
        if name in _MARKERS:
            self.active.append(None)

    def pop_to(self, position: int, closed_by_end_tag: bool = False) -> None:
        """Pop the element at ``position`` and everything above it. Formatting elements stay
        active (html5ever reopens them), unless closed by their own end tag."""
        while len(self.names) > position:
            name, entry = self.names.pop(), self.formatting.pop()
            self.by_name[name].pop()
            for kind in _kinds_of(name):
                self.by_kind[kind].pop()
            if name in _MARKERS:
                self._clear_to_marker()
            elif entry is not None and entry.open:
                if closed_by_end_tag and len(self.names) == position:
                    self._forget(entry)
                else:
                    entry.open = False
                    self.closed_active += 1

    def _forget(self, entry: _Formatting) -> None:
        self.active.remove(entry)
        if not entry.open:
            self.closed_active -= 1
        entry.open = False  # no longer linked: its element, if open, is a plain one now

    def _clear_to_marker(self) -> None:
        while self.active:
            entry = self.active.pop()
            if entry is None:
                return
            if not entry.open:
                self.closed_active -= 1
            entry.open = False

    def _section(self) -> list[_Formatting]:
        """The active formatting elements after the last marker."""
        section: list[_Formatting] = []
        for entry in reversed(self.active):
            if entry is None:
                break
            section.append(entry)
        section.reverse()
        return section

    def reopen(self) -> None:
        """html5ever's "reconstruct the active formatting elements": the depth is unchanged."""
        if not self.closed_active:
            return
        closed: list[_Formatting] = []
        for entry in reversed(self.active):
            if entry is None or entry.open:
                break
            closed.append(entry)
        for entry in reversed(closed):
            self.closed_active -= 1
            entry.open = True
            self.push(entry.name, entry)

    def close_formatting(self, name: str) -> None:
        """An end tag of a formatting or ordinary element: it closes the element only when no
        special element is open above it (else html5ever ignores it or runs the adoption
        agency, which keeps the elements above open)."""
        if name in _FORMATTING and self.closed_active:
            entry = next((e for e in reversed(self._section()) if e.name == name), None)
            if entry is not None and not entry.open:
                self._forget(entry)  # active but not open: html5ever just drops it
                return
        if self._nothing_above(self.last(name), "special"):
            self.pop_to(self.last(name), closed_by_end_tag=True)

    def open(self, name: str, key: str) -> None:
        """The implicit closes a start tag causes, then the element itself."""
        if name in _CLOSING_START_TAGS:
            self._close_before(name)
        if name not in _NO_REOPENING:
            self.reopen()
        entry = None
        if name in _FORMATTING:
            if len(self.active) >= _NOAHS_ARK:
                same = [e for e in self._section() if e.key == key]
                if len(same) >= _NOAHS_ARK:
                    self._forget(same[0])
            entry = _Formatting(name, key)
            self.active.append(entry)
        self.push(name, entry)

    def _close_before(self, name: str) -> None:
        if name in ("a", "nobr"):
            self.close_formatting(name)
        if name in ("li", "dd", "dt"):
            siblings = ("li",) if name == "li" else ("dd", "dt")
            position = max(self.last(sibling) for sibling in siblings)
            if self._nothing_above(position, "item_stop"):
                self.pop_to(position)
        if name in _CLOSES_P:
            self.close_if_in_scope("p", "button")
        if name in _HEADINGS and self.names and self.names[-1] in _HEADINGS:
            self.pop_to(len(self.names) - 1)
        if name in ("td", "th", "tr"):
            cell = max(self.last("td"), self.last("th"))
            if self._nothing_above(cell, "table"):
                self.pop_to(cell)
        if name == "tr":
            self.close_if_in_scope("tr", "table")
        if name == "button":
            self.close_if_in_scope("button", "scope")
        if name in ("option", "optgroup") and self.names and self.names[-1] == "option":
            self.pop_to(len(self.names) - 1)
        if name == "optgroup" and self.names and self.names[-1] == "optgroup":
            self.pop_to(len(self.names) - 1)

    def close_if_in_scope(self, name: str, kind: str) -> None:
        if self.in_scope(name, kind):
            self.pop_to(self.last(name), closed_by_end_tag=True)

    def close(self, name: str) -> None:
        if self.names and self.names[-1] == name and not self.closed_active:
            self.pop_to(len(self.names) - 1, closed_by_end_tag=True)  # the common case
        elif name in _FORMATTING or name not in _SPECIAL:
            self.close_formatting(name)
        elif self.last(name) < 0:
            return  # html5ever ignores it (or, for </p>, opens and closes an empty one)
        elif self.names[-1] == name:
            self.pop_to(len(self.names) - 1, closed_by_end_tag=True)
        elif name == "p":
            self.close_if_in_scope(name, "button")
        elif name == "li":
            self.close_if_in_scope(name, "list")
        elif name in _TABLE_PARTS:
            self.close_if_in_scope(name, "table")
        elif name not in _TOP_ONLY:
            self.close_if_in_scope(name, "scope")


def limit_nesting(fragment: str, max_depth: int = MAX_DEPTH) -> str:
    """``fragment`` without the tags that would nest elements deeper than ``max_depth``."""
    if fragment.count("<") <= max_depth:
        return fragment  # every element needs a "<": it cannot be that deep
    elements = _OpenElements()
    dropped: Counter[str] = Counter()  # start tags left out, whose end tags go too
    kept: list[str] = []
    start = position = 0
    while match := _TOKEN.search(fragment, position):
        if match.start() > position:
            elements.reopen()  # before text
        position = match.end()
        is_end, raw_name = match.group(1, 2)
        if raw_name is None:
            continue  # comment, doctype, processing instruction: nh3 drops them
        name = raw_name.lower()
        if is_end:
            if not dropped[name]:
                if name not in _NEVER_OPENED and name not in _VOID:
                    elements.close(name)
                continue
            dropped[name] -= 1
        elif name in _NEVER_OPENED or name in _VOID:
            if name not in _NO_REOPENING:
                elements.reopen()  # before <img>, <br> ...
            continue
        elif elements.depth < max_depth:
            elements.open(name, match.group())
            if name == "script" and elements.last("svg") < 0 and elements.last("math") < 0:
                # Script data holds no tags until </script> (html5ever's ends there or later).
                end = _SCRIPT_END.search(fragment, position)
                position = end.start() if end else len(fragment)
            continue
        else:
            dropped[name] += 1
        kept.append(fragment[start : match.start()])
        start = match.end()
    if not kept:
        return fragment
    kept.append(fragment[start:])
    return "".join(kept)
