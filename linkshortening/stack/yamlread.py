"""Read a stack file as strict, bounded YAML: its input cannot hang or crash the loader.

Bounds, each refused with a ConfigError naming the key: at most MAX_BYTES of file; at most
MAX_NODES values counting every alias expansion (a "billion laughs" fails at the alias that
crosses it, before anything is built); at most MAX_DEPTH levels of nesting, aliases included
(no RecursionError); no alias inside its own anchor. Mapping keys are plain scalars (`? [a, b]`
is refused, not a TypeError), never repeat and never merge (`<<`); a number has at most
MAX_NUMBER characters; a scalar that cannot be built (`2026-13-45`) is an error, not a
ValueError.

libyaml parses when PyYAML has it (about 6x faster on a 10,000-domain stack); the composer
and constructor below are the same Python code for both parsers, and a file libyaml refuses
is read again by the pure-Python parser, so results and messages are the same with either.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from linkshortening.stack.errors import ConfigError, clip, quoted

MAX_BYTES = 8 * 1024 * 1024  # a 10,000-domain stack is about 2 MB
MAX_NODES = 1_000_000  # values after alias expansion; a 10,000-domain stack has ~150,000
MAX_DEPTH = 64  # a stack file nests 5 deep; Pulumi's structured config a few more
MAX_NUMBER = 64  # characters; int() refuses 4,300 digits with a ValueError, and no key wants 20
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
MERGE_TAG = "tag:yaml.org,2002:merge"
TAG_NAMES = {"timestamp": "a date", "int": "a number", "float": "a number",
             "bool": "true or false", "binary": "base64"}
SYNTAX_FIX = "fix the YAML syntax there (indentation, quotes, colons)"
TOO_DEEP = f"nests deeper than {MAX_DEPTH} levels"
DEPTH_FIX = "a stack file nests a few levels: flatten it"
KeyPath = list[str | int]  # mapping keys and sequence indexes from the document root
CollectionT = TypeVar("CollectionT", SequenceNode, MappingNode)


class BoundError(MarkedYAMLError):
    """A bound of this module was crossed at `path`."""

    def __init__(self, path: KeyPath, problem: str, mark: Any, fix: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.key, self.fix = render(path), fix


class DepthError(BoundError):
    """Nesting past MAX_DEPTH. The pure-Python parser words it for both loaders: libyaml's
    scanner reads ahead into deep flow nesting and stops at its own limit (1,000) first."""


class NodeError(ConstructorError):
    """A constructor error about one node, whose key path is looked up from the root."""

    def __init__(self, problem: str, node: Node, fix: str) -> None:
        super().__init__(problem=problem, problem_mark=node.start_mark)
        self.node, self.fix = node, fix


class LocatedError(MarkedYAMLError):
    """A constructor error with the key path of its node and the fix."""

    def __init__(self, exc: MarkedYAMLError, key: str, fix: str) -> None:
        super().__init__(exc.context, exc.context_mark, exc.problem, exc.problem_mark)
        self.key, self.fix = key, fix


class _BoundedComposer(Composer):
    """PyYAML's Composer, counting what it composes: depth, values, alias expansions."""

    if TYPE_CHECKING:  # from the parser and resolver it is mixed with
        def check_event(self, *choices: type[Any]) -> bool: ...
        def peek_event(self) -> Any: ...
        def get_event(self) -> Any: ...
        def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str: ...
        def descend_resolver(self, parent: Node | None, index: Any) -> None: ...
        def ascend_resolver(self) -> None: ...

    def __init__(self) -> None:
        super().__init__()
        self.path: KeyPath = []
        self.count = 0  # values so far, each alias counted as everything it stands for
        self.deepest = 0  # the deepest level reached so far, aliases included
        self.extent: dict[Node, tuple[int, int]] = {}  # anchored node -> (values, height)
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        depth = len(self.path)
        if self.check_event(AliasEvent):
            return self._alias(depth)
        event = self.peek_event()
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise BoundError(self.path, f"the anchor &{clip(anchor)} is defined twice",
                             event.start_mark, "give each anchor its own name")
        if depth > MAX_DEPTH:
            raise DepthError(self.path, TOO_DEEP, event.start_mark, DEPTH_FIX)
        self.count += 1
        self._check_count(event.start_mark, "the file has")
        self.deepest = max(self.deepest, depth)
        before, deepest_before = self.count, self.deepest
        if anchor is not None:
            self.open_anchors.add(anchor)
            self.deepest = depth
        self.descend_resolver(parent, index)
        if self.check_event(ScalarEvent):
            node: Node = self.compose_scalar_node(anchor)
        elif self.check_event(SequenceStartEvent):
            node = self.compose_sequence_node(anchor)
        else:
            node = self.compose_mapping_node(anchor)
        self.ascend_resolver()
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.extent[node] = (self.count - before + 1, self.deepest - depth)
            self.deepest = max(deepest_before, self.deepest)
        return node

    def _alias(self, depth: int) -> Node:
        event = self.get_event()
        anchor = event.anchor
        if anchor in self.open_anchors:
            raise BoundError(self.path, f"the alias *{clip(anchor)} is inside its own anchor",
                             event.start_mark, "a stack file has no recursive structures: "
                             "remove the alias")
        if anchor not in self.anchors:
            raise BoundError(self.path, f"the alias *{clip(anchor)} has no anchor before it",
                             event.start_mark, f"define &{clip(anchor)} before using it")
        node: Node = self.anchors[anchor]
        values, height = self.extent[node]
        self.count += values
        self._check_count(event.start_mark, "with its aliases expanded, the file has")
        self.deepest = max(self.deepest, depth + height)
        if self.deepest > MAX_DEPTH:
            raise DepthError(self.path, f"with its aliases expanded, {TOO_DEEP}",
                             event.start_mark, "use fewer aliases inside aliases")
        return node

    def _check_count(self, mark: Any, has: str) -> None:
        if self.count > MAX_NODES:
            raise BoundError(self.path, f"{has} more than {MAX_NODES:,} values by here", mark,
                             "a stack file has a few dozen values a domain: remove the aliases "
                             "that multiply them")

    def _start(self, kind: type[CollectionT], anchor: Any) -> CollectionT:
        """A new sequence or mapping node from its start event, registered under `anchor`."""
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(kind, None, start.implicit)
        node = kind(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        return node

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        node = self._start(SequenceNode, anchor)
        while not self.check_event(SequenceEndEvent):
            self.path.append(len(node.value))
            node.value.append(self.compose_node(node, len(node.value)))
            self.path.pop()
        node.end_mark = self.get_event().end_mark
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = self._start(MappingNode, anchor)
        while not self.check_event(MappingEndEvent):
            event = self.peek_event()
            if not isinstance(event, ScalarEvent | AliasEvent):
                what = "list" if isinstance(event, SequenceStartEvent) else "mapping"
                raise BoundError(self.path, f"a key of this mapping is a {what}",
                                 event.start_mark, "write keys as plain names (`email:`); "
                                 "quote a key that contains [ ] { } or starts with ?")
            key = self.compose_node(node, None)
            if not isinstance(key, ScalarNode):
                raise BoundError(self.path, "a key of this mapping is an alias of a "
                                 f"{'list' if isinstance(key, SequenceNode) else 'mapping'}",
                                 event.start_mark, "write keys as plain names (`email:`)")
            self.path.append(key.value)
            node.value.append((key, self.compose_node(node, key)))
            self.path.pop()
        node.end_mark = self.get_event().end_mark
        return node


class _StrictConstructor(SafeConstructor):
    """SafeConstructor that refuses duplicate keys instead of silently keeping the last one,
    and turns a scalar it cannot build into an error naming it."""

    if TYPE_CHECKING:  # from the composer it is mixed with
        def get_single_node(self) -> Node | None: ...

    def get_single_data(self) -> Any:
        root = self.get_single_node()
        if root is None:
            return None
        try:
            return self.construct_document(root)
        except NodeError as exc:
            target = exc.node
            raise LocatedError(exc, render(path_to(root, lambda n: n is target)),
                               exc.fix) from None
        except ConstructorError as exc:  # SafeConstructor's own: find its node by position
            at = exc.problem_mark.index if exc.problem_mark else -1
            fix = SYNTAX_FIX
            if (exc.problem or "").startswith("could not determine a constructor"):
                fix = "remove the tag: a stack file takes plain strings, numbers, lists, mappings"
            raise LocatedError(exc, render(path_to(root, lambda n: n.start_mark.index == at)),
                               fix) from None

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if not isinstance(node, ScalarNode) or node in self.constructed_objects:
            return super().construct_object(node, deep)
        if node.tag in NUMBER_TAGS and len(node.value) > MAX_NUMBER:
            raise NodeError(f"a number of {len(node.value):,} characters is longer than any "
                            f"setting takes (at most {MAX_NUMBER})", node,
                            "write the number the setting needs, or quote it if it is text")
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # a scalar's constructor fails only on its text
            short = node.tag.rsplit(":", 1)[-1]
            detail = f" ({clip(str(exc))})" if isinstance(exc, ValueError) else ""
            raise NodeError(f"cannot read {quoted(node.value)} as {TAG_NAMES.get(short, short)}"
                            f"{detail}", node, "correct it, or quote it if it is text") from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, MappingNode):  # `!!set` on a scalar comes here too, and fails below
            seen: set[Hashable] = set()
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    raise NodeError("a merge key (<<) is not supported", key_node,
                                    "write the keys out, or alias the whole mapping (key: *name)")
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    raise NodeError(f"a key of this mapping is {quoted(key)}", key_node,
                                    "write keys as plain names (`email:`)")
                if key in seen:
                    raise NodeError(f"duplicate key {quoted(key)}", key_node,
                                    "keep one of the two: YAML would silently drop the first")
                seen.add(key)
        return super().construct_mapping(node, deep)


class PythonLoader(Reader, Scanner, Parser, _BoundedComposer, _StrictConstructor, Resolver):
    """The pure-Python parser under the bounded composer and strict constructor."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _StrictConstructor.__init__(self)
        Resolver.__init__(self)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner reads ahead up to 1,024 characters to find out whether a `[` starts a
        # key, checking every open flow level at each token: 20,000 `[`s would take seconds.
        if self.flow_level >= MAX_DEPTH:
            raise DepthError(self.path, TOO_DEEP, self.get_mark(), DEPTH_FIX)
        super().fetch_flow_collection_start(TokenClass)


LOADERS: dict[str, type[Any]] = {"python": PythonLoader}
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class LibyamlLoader(_BoundedComposer, CParser, _StrictConstructor, Resolver):
        """libyaml's parser (events only) under the same composer and constructor."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)

    LOADERS = {"libyaml": LibyamlLoader, **LOADERS}
DEFAULT_LOADER = next(iter(LOADERS))


def read_yaml(path: Path, loader: str | None = None) -> object:
    """Parse a YAML file, turning every failure into a ConfigError naming the file."""
    return parse_yaml(read_text(path), str(path), loader)


def read_text(path: Path) -> str:
    source = str(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)  # not the whole of /dev/zero or a 10 GB file
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found",
                          "check the path, or create it from stacks/Pulumi.example.yaml") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot be read ({exc.__class__.__name__})",
                          "make it a readable UTF-8 text file") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(source, "", f"is larger than {MAX_BYTES // 2**20} MiB",
                          "a stack file takes about 200 bytes a domain: check it is the right "
                          "file, or split the domains over several stacks")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(source, "", "cannot be read (UnicodeDecodeError)",
                          "make it a readable UTF-8 text file") from None


def parse_yaml(text: str, source: str, loader: str | None = None) -> object:
    """`text` as plain data (dicts, lists, scalars), by the named loader (default: libyaml
    when available), or a ConfigError naming the file, the key where known, and the fix."""
    name = loader or DEFAULT_LOADER
    if name != "python" and Reader.NON_PRINTABLE.search(text):
        name = "python"  # the pure-Python reader's check, and its message, for both
    try:
        return _load(text, LOADERS[name])
    except (yaml.scanner.ScannerError, yaml.parser.ParserError, ReaderError, DepthError) as exc:
        if name == "python":
            raise _config_error(source, exc, text) from None
    except yaml.YAMLError as exc:
        raise _config_error(source, exc, text) from None
    # libyaml refused the syntax or the depth: the pure-Python parser decides, so the answer
    # (and its wording) is the one the fallback gives.
    return parse_yaml(text, source, "python")


def _load(text: str, loader_class: type[Any]) -> object:
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _config_error(source: str, exc: yaml.YAMLError, text: str) -> ConfigError:
    if isinstance(exc, BoundError):
        return ConfigError(source, exc.key, f"{exc.problem} ({_where(exc.problem_mark)})",
                           exc.fix)
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, exc.position)
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
        where = f"line {line + 1}, column {column + 1}"
        problem = str(exc).splitlines()[0]
    else:
        mark = getattr(exc, "problem_mark", None)
        where = _where(mark) if mark else "somewhere"
        parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
        problem = ", ".join(p for p in parts if p) or str(exc).splitlines()[0]
    key, fix = (exc.key, exc.fix) if isinstance(exc, LocatedError) else ("", SYNTAX_FIX)
    return ConfigError(source, key, f"invalid YAML at {where}: {clip(problem, 200)}", fix)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def render(path: KeyPath) -> str:
    """`config.lsctl:domains.0.fqdn` as the loader's messages name it: `lsctl:domains[0].fqdn`."""
    if len(path) > 1 and path[0] == "config":
        path = path[1:]
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def path_to(root: Node, wanted: Callable[[Node], bool]) -> KeyPath:
    """The key path of the first `wanted` node below `root` (empty when none), no recursion."""
    todo: list[tuple[Node, KeyPath]] = [(root, [])]
    seen: set[Node] = set()
    while todo:
        node, path = todo.pop()
        if wanted(node):
            return path
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, SequenceNode):
            todo.extend((child, [*path, i]) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                todo.append((key, path))
                todo.append((value, [*path, key.value if isinstance(key, ScalarNode) else "?"]))
    return []
