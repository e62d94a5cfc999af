"""The registered domain of a name (Let's Encrypt's per-domain limit), from the Public Suffix
List that `publicsuffixlist` ships: never downloaded at run time."""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList


@functools.cache
def _list() -> PublicSuffixList:
    # Private suffixes included, as the CA counts them (foo.github.io is its own domain);
    # unknown TLDs (the sandbox's .test) count as one-label suffixes.
    return PublicSuffixList(only_icann=False, accept_unknown=True)


@functools.lru_cache(maxsize=65536)
def registered_domain(name: str) -> str:
    """`a.example.co.uk` -> `example.co.uk`; a wildcard counts as its base name; a public
    suffix itself is its own registered domain."""
    bare = name.lower().rstrip(".").removeprefix("*.")
    return _list().privatesuffix(bare) or bare
