"""Bound the nesting depth of an HTML fragment in one linear pass, before it is sanitised.

html5ever (inside nh3) looks through its stack of open elements on most tags, so its cost
grows with tags × depth: a body of 60,000 nested ``<div>`` took 43 s to store.
``limit_nesting`` drops every start tag that would open an element deeper than the limit, and
the end tag that closes it; text, and every element within the limit, are kept.

Depth is counted with the HTML tree builder's own rules for the common cases (void elements,
``<p>``/``<li>``/``<dd>``/``<td>``/``<tr>`` closed by their successors, end tags that close only
what is in scope), so normal HTML, even without its optional end tags, is counted as browsers
build it. Where a rule is too intricate to follow here (the adoption agency for misnested
``<b>``/``<i>``, foreign content, foster parenting), the count assumes elements stay open, and
formatting elements closed implicitly count on (html5ever reopens them), so the count is never
below the depth html5ever reaches on the output: that is what bounds its cost. The tokeniser
likewise treats as a tag whatever html5ever might read as one.
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


_KINDS = {
    "scope": _SCOPE,
    "button": _BUTTON_SCOPE,
    "list": _LIST_SCOPE,
    "table": _TABLE_SCOPE,
    "special": _SPECIAL,
    "item_stop": _STOPS_ITEM_CLOSE,
}


class _OpenElements:
    """The stack of open elements, with the position of the latest element of each kind, so
    that every scope check is O(1) and the pass stays linear however deep the input."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.keys: list[str] = []  # the start tag's text, which tells formatting elements apart
        self.by_name: dict[str, list[int]] = {}
        self.by_kind: dict[str, list[int]] = {kind: [] for kind in _KINDS}
        self.still_active: Counter[str] = Counter()  # formatting elements html5ever reopens
        self.still_active_count = 0

    @property
    def depth(self) -> int:
        return len(self.names) + self.still_active_count

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

    def push(self, name: str, key: str) -> None:
        position = len(self.names)
        self.names.append(name)
        self.keys.append(key)
        self.by_name.setdefault(name, []).append(position)
        for kind, names in _KINDS.items():
            if name in names:
                self.by_kind[kind].append(position)

    def pop_to(self, position: int) -> None:
        """Pop the element at ``position`` and everything above it; formatting elements above
        it stay active, as html5ever reopens them."""
        while len(self.names) > position:
            name, key = self.names.pop(), self.keys.pop()
            self.by_name[name].pop()
            for kind, names in _KINDS.items():
                if name in names:
                    self.by_kind[kind].pop()
            reopened = name in _FORMATTING and len(self.names) > position
            if reopened and self.still_active[key] < _NOAHS_ARK:
                self.still_active[key] += 1
                self.still_active_count += 1

    def close_if_in_scope(self, name: str, kind: str) -> None:
        if self.in_scope(name, kind):
            self.pop_to(self.last(name))

    def close_formatting(self, name: str) -> None:
        """An end tag of a formatting or ordinary element: it closes the element only when no
        special element is open above it (else html5ever ignores it or runs the adoption
        agency, which keeps the elements above open)."""
        if self._nothing_above(self.last(name), "special"):
            self.pop_to(self.last(name))

    def open(self, name: str, key: str) -> None:
        """The implicit closes a start tag causes, then the element itself."""
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
        self.push(name, key)

    def close(self, name: str) -> None:
        if self.last(name) < 0:
            return  # html5ever ignores it (or, for </p>, opens and closes an empty one)
        if self.names[-1] == name:
            self.pop_to(len(self.names) - 1)
        elif name in _FORMATTING or name not in _SPECIAL:
            self.close_formatting(name)
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
